package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/store"
)

const groupHelp = `usage: renkei group add [--data DIR] --name NAME --owner ORG
       renkei group add-member [--data DIR] GROUP ORG
       renkei group list [--data DIR]

Manage sharing groups: named lists of organisations that objects can be distributed to. The owner
(an organisation of this node) manages the group and is its first member. A member is an
organisation of this node (its name or identity id) or, on another node, its identity id. Every
change of membership increments the group's revision.
`

func runGroup(ctx context.Context, e *env, args []string) error {
	return runSub(ctx, e, "group", groupHelp, []subcommand{{"add", runGroupAdd}, {"add-member", runGroupAddMember}, {"list", runGroupList}}, args)
}

func runGroupAdd(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "group", "renkei group add [--data DIR] --name NAME --owner ORG",
		"Add a sharing group owned by an organisation of this node, with the owner as its first member.")
	dir := f.dataDir()
	name := f.String("name", "", "the group's `name`, unique on the node (required)")
	owner := f.String("owner", "", "the owning organisation: its `name` or identity id (required)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("group", "group add takes no arguments, found %q", pos[0])
	}
	switch {
	case *name == "":
		return usageError("group", "--name is required")
	case *owner == "":
		return usageError("group", "--owner is required")
	}
	if err := checkAccountName("group", "group name", *name); err != nil {
		return err
	}
	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	org, err := findOrg(ctx, st, *owner)
	if err != nil {
		return err
	}
	g := store.Group{ID: uuid.NewString(), Name: *name, OwnerOrg: org.ID, Members: []string{org.ID}, CreatedAt: e.now()}
	if err := st.CreateGroup(audited(ctx, e, "group.add", g.ID, fmt.Sprintf("name %q, owner %s", g.Name, org.ID)), g); err != nil {
		if errors.Is(err, store.ErrExists) {
			return withHint(fmt.Errorf("group %q exists already", *name), "'renkei group list' shows the groups")
		}
		return fmt.Errorf("group %q: %w", *name, err)
	}
	if err := publishGroup(ctx, e, st, g.ID); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "added group %s (%s) owned by %s\n", g.Name, g.ID, org.Name)
	return nil
}

func runGroupAddMember(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "group", "renkei group add-member [--data DIR] GROUP ORG",
		"Add an organisation to a sharing group: one of this node (name or identity id), or another node's identity id.")
	dir := f.dataDir()
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError("group", "group add-member takes a group and an organisation, found %d arguments", len(pos))
	}
	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	g, err := st.Group(ctx, pos[0])
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return withHint(fmt.Errorf("unknown group %q", pos[0]), "'renkei group list' shows the groups")
		}
		return fmt.Errorf("group %q: %w", pos[0], err)
	}
	orgID, label := pos[1], pos[1]
	if org, ferr := findOrg(ctx, st, pos[1]); ferr == nil {
		orgID, label = org.ID, org.Name
	} else if !isIdentityID(pos[1]) {
		return ferr
	}
	if err := st.AddGroupMember(audited(ctx, e, "group.add-member", g.ID, "member "+orgID), g.ID, orgID); err != nil {
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("%s is a member of group %s already", label, g.Name)
		}
		return fmt.Errorf("group %q: %w", g.Name, err)
	}
	if err := publishGroup(ctx, e, st, g.ID); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "added %s to group %s (revision %d)\n", label, g.Name, g.Revision+1)
	return nil
}

func runGroupList(ctx context.Context, e *env, args []string) (err error) {
	st, err := openForListing(ctx, e, "group", "List the sharing groups and their members.", args)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	names, err := orgNames(ctx, st)
	if err != nil {
		return err
	}
	gs, err := st.ListGroups(ctx)
	if err != nil {
		return fmt.Errorf("groups: %w", err)
	}
	label := func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		return id
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tOWNER\tREVISION\tMEMBERS\tID")
	for _, g := range gs {
		var ms []string
		for _, m := range g.Members {
			ms = append(ms, label(m))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", g.Name, label(g.OwnerOrg), g.Revision, strings.Join(ms, ", "), g.ID)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}

// publishGroup stores the marking definition of the group's current revision, created by its owner:
// objects marked with it are then addressed to the group's members, and peers receive the members
// list with the marking (docs/POLICY.md, "Sharing groups").
func publishGroup(ctx context.Context, e *env, st store.Store, groupID string) error {
	g, err := st.Group(ctx, groupID)
	if err != nil {
		return fmt.Errorf("group %s: %w", groupID, err)
	}
	raw, err := policy.SharingGroupMarking(policy.SharingGroup{ID: g.ID, Name: g.Name, Owner: g.OwnerOrg,
		Revision: g.Revision, Members: g.Members, Created: e.now()})
	if err != nil {
		return err
	}
	return importStrict(ctx, ingest.New(st, e.logger), raw, fmt.Sprintf("the marking definition of group %s revision %d", g.Name, g.Revision))
}
