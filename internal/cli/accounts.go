package cli

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/store"
)

// This file holds what the account commands (org, user, token, group) share: subcommand dispatch,
// finding organisations and users by name, and the audit record every change appends.

// subcommand is one verb of a command such as "org add".
type subcommand struct {
	name string
	run  func(ctx context.Context, e *env, args []string) error
}

// runSub dispatches args to one of subs; help is the command's usage text.
func runSub(ctx context.Context, e *env, cmd, help string, subs []subcommand, args []string) error {
	var names []string
	for _, s := range subs {
		names = append(names, s.name)
	}
	list := strings.Join(names, ", ")
	if len(args) == 0 {
		return usageError(cmd, "%s needs a subcommand: %s", cmd, list)
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(e.stdout, help)
		return errHelp
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, e, args[1:])
		}
	}
	return usageError(cmd, "unknown subcommand %q: use %s", args[0], list)
}

// accountNameRE is what a user or group name may be. A user name is the user part of HTTP Basic
// credentials, so it may not hold ':'.
var accountNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

func checkAccountName(cmd, what, name string) error {
	if !accountNameRE.MatchString(name) {
		return usageError(cmd, "%s %q: use 1–64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", what, name)
	}
	return nil
}

// cliActor names the person at the command line in audit records: "cli:" and the OS user.
func cliActor(e *env) string {
	name := e.getenv("USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	if name == "" {
		name = "unknown"
	}
	return "cli:" + name
}

// audited returns a context under which the store appends a record of an action done from the
// command line in the same transaction as the change it records (store.WithAudit).
func audited(ctx context.Context, e *env, action, target, detail string) context.Context {
	return store.WithAudit(ctx, store.AuditRecord{At: e.now(), Actor: cliActor(e), Action: action, Target: target, Detail: detail})
}

// audit appends a record of an action done from the command line that is not one store change.
func audit(ctx context.Context, e *env, st store.Store, action, target, detail string) error {
	if _, err := st.AppendAudit(ctx, store.AuditRecord{At: e.now(), Actor: cliActor(e), Action: action, Target: target, Detail: detail}); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// isIdentityID reports whether s is a STIX identity id: "identity--" and a UUID.
func isIdentityID(s string) bool {
	u, ok := strings.CutPrefix(s, "identity--")
	if !ok || len(u) != 36 {
		return false
	}
	_, err := uuid.Parse(u)
	return err == nil
}

// findOrg finds an organisation of this node by its identity id or its name.
func findOrg(ctx context.Context, st store.Store, ref string) (store.Organisation, error) {
	if isIdentityID(ref) {
		o, err := st.Organisation(ctx, ref)
		if errors.Is(err, store.ErrNotFound) {
			return o, withHint(fmt.Errorf("unknown organisation %s", ref), "'renkei org list' shows the organisations")
		}
		return o, err
	}
	orgs, err := st.ListOrganisations(ctx)
	if err != nil {
		return store.Organisation{}, fmt.Errorf("organisations: %w", err)
	}
	var found []store.Organisation
	for _, o := range orgs {
		if o.Name == ref {
			found = append(found, o)
		}
	}
	switch len(found) {
	case 0:
		return store.Organisation{}, withHint(fmt.Errorf("unknown organisation %q", ref), "'renkei org list' shows the organisations")
	case 1:
		return found[0], nil
	}
	return store.Organisation{}, withHint(fmt.Errorf("%d organisations are named %q", len(found), ref), "name the organisation by its identity id; 'renkei org list' shows them")
}

// findUser finds a user by name.
func findUser(ctx context.Context, st store.Store, name string) (store.User, error) {
	u, err := st.UserByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return u, withHint(fmt.Errorf("unknown user %q", name), "'renkei user list' shows the users")
	}
	if err != nil {
		return u, fmt.Errorf("user %q: %w", name, err)
	}
	return u, nil
}

// orgNames maps the organisations of this node from id to name.
func orgNames(ctx context.Context, st store.Store) (map[string]string, error) {
	orgs, err := st.ListOrganisations(ctx)
	if err != nil {
		return nil, fmt.Errorf("organisations: %w", err)
	}
	m := make(map[string]string, len(orgs))
	for _, o := range orgs {
		m[o.ID] = o.Name
	}
	return m, nil
}

// listTime formats a time for a listing; the zero time is shown as zero.
func listTime(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format(time.RFC3339)
}

// openForListing parses the flags of a "CMD list" subcommand, which takes no arguments, and opens the
// node. The caller closes the store.
func openForListing(ctx context.Context, e *env, cmd, help string, args []string) (store.Store, error) {
	f := newFlags(e, cmd, "renkei "+cmd+" list [--data DIR]", help)
	dir := f.dataDir()
	pos, err := f.parse(args)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 {
		return nil, usageError(cmd, "%s list takes no arguments, found %q", cmd, pos[0])
	}
	return openNode(ctx, *dir, e.logger)
}
