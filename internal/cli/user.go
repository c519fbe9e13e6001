package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/store"
)

const userHelp = `usage: renkei user add [--data DIR] --org ORG --name NAME --role ROLE
       renkei user list [--data DIR]
       renkei user disable [--data DIR] NAME

Add, list or disable users. A user belongs to one organisation (its name or identity id) and has
one role: admin, org-admin, analyst, reader or peer. A disabled user's tokens stop working.
`

var roles = []store.Role{store.RoleAdmin, store.RoleOrgAdmin, store.RoleAnalyst, store.RoleReader, store.RolePeer}

func roleList() string {
	var s []string
	for _, r := range roles {
		s = append(s, string(r))
	}
	return strings.Join(s, ", ")
}

func runUser(ctx context.Context, e *env, args []string) error {
	return runSub(ctx, e, "user", userHelp, []subcommand{{"add", runUserAdd}, {"list", runUserList}, {"disable", runUserDisable}}, args)
}

func runUserAdd(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "user", "renkei user add [--data DIR] --org ORG --name NAME --role ROLE",
		"Add a user to an organisation of this node. Create a token for it with 'renkei token create'.")
	dir := f.dataDir()
	orgRef := f.String("org", "", "the user's organisation: its `name` or identity id (required)")
	name := f.String("name", "", "the user's `name`, unique on the node (required)")
	role := f.String("role", "", "the user's `role`: "+roleList()+" (required)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("user", "user add takes no arguments, found %q", pos[0])
	}
	switch {
	case *orgRef == "":
		return usageError("user", "--org is required")
	case *name == "":
		return usageError("user", "--name is required")
	case *role == "":
		return usageError("user", "--role is required: one of %s", roleList())
	}
	if err := checkAccountName("user", "user name", *name); err != nil {
		return err
	}
	r := store.Role(*role)
	known := false
	for _, k := range roles {
		known = known || k == r
	}
	if !known {
		return usageError("user", "unknown role %q: use one of %s", *role, roleList())
	}
	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	org, err := findOrg(ctx, st, *orgRef)
	if err != nil {
		return err
	}
	u := store.User{ID: uuid.NewString(), Name: *name, OrgID: org.ID, Role: r, CreatedAt: e.now()}
	if err := st.CreateUser(audited(ctx, e, "user.add", u.ID, fmt.Sprintf("name %q, organisation %s, role %s", u.Name, org.ID, r)), u); err != nil {
		if errors.Is(err, store.ErrExists) {
			return withHint(fmt.Errorf("user %q exists already", *name), "user names are unique on the node; 'renkei user list' shows them")
		}
		return fmt.Errorf("user %q: %w", *name, err)
	}
	fmt.Fprintf(e.stdout, "added user %s (%s) to %s as %s\n", u.Name, u.ID, org.Name, r)
	return nil
}

func runUserList(ctx context.Context, e *env, args []string) (err error) {
	st, err := openForListing(ctx, e, "user", "List the users of this node.", args)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	names, err := orgNames(ctx, st)
	if err != nil {
		return err
	}
	us, err := st.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tORGANISATION\tROLE\tSTATUS\tCREATED\tID")
	for _, u := range us {
		status := "active"
		if u.Disabled {
			status = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Name, names[u.OrgID], u.Role, status, listTime(u.CreatedAt, "-"), u.ID)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}

func runUserDisable(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "user", "renkei user disable [--data DIR] NAME",
		"Disable a user: its tokens stop working at once, on a running server too. Its records stay.")
	dir := f.dataDir()
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("user", "user disable takes exactly one user name, found %d arguments", len(pos))
	}
	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	u, err := findUser(ctx, st, pos[0])
	if err != nil {
		return err
	}
	if u.Disabled {
		fmt.Fprintf(e.stdout, "user %s is disabled already\n", u.Name)
		return nil
	}
	if err := st.DisableUser(audited(ctx, e, "user.disable", u.ID, fmt.Sprintf("name %q", u.Name)), u.Name); err != nil {
		return fmt.Errorf("user %q: %w", u.Name, err)
	}
	fmt.Fprintf(e.stdout, "disabled user %s\n", u.Name)
	return nil
}
