package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/store"
)

const orgHelp = `usage: renkei org add [--data DIR] --name NAME
       renkei org add [--data DIR] --remote --id IDENTITY-ID --name NAME
       renkei org list [--data DIR]

Add or list the organisations this node knows. One hosted here is a STIX identity object
(identity_class organization) that init or org add creates, stored like any other object, and its
own creator. A remote organisation is hosted on a partner node: it is known by the identity id the
partner gave it, its identity object arrives with the partner's data, and its peer account syncs
with this node. The sharing policy tells the two apart (docs/POLICY.md, "How the viewer relates").
`

func runOrg(ctx context.Context, e *env, args []string) error {
	return runSub(ctx, e, "org", orgHelp, []subcommand{{"add", runOrgAdd}, {"list", runOrgList}}, args)
}

func runOrgAdd(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "org", "renkei org add [--data DIR] --name NAME",
		"Add an organisation: a new STIX identity object and the node's record of it.")
	dir := f.dataDir()
	name := f.String("name", "", "the organisation's `name` (required, unique on the node)")
	remote := f.Bool("remote", false, "the organisation is hosted on another node")
	remoteID := f.String("id", "", "with --remote: the organisation's identity `id` on its own node")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("org", "org add takes no arguments, found %q", pos[0])
	}
	n := strings.TrimSpace(*name)
	if n == "" {
		return usageError("org", "--name is required")
	}
	switch {
	case *remote && !isIdentityID(*remoteID):
		return usageError("org", "--remote needs --id with the organisation's identity id (identity--<uuid>)")
	case !*remote && *remoteID != "":
		return usageError("org", "--id is only for --remote: an organisation hosted here gets a new identity id")
	}
	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	names, err := orgNames(ctx, st)
	if err != nil {
		return err
	}
	for id, other := range names {
		if other == n {
			return withHint(fmt.Errorf("organisation %q exists already (%s)", n, id), "'renkei org list' shows the organisations")
		}
	}
	org := store.Organisation{ID: *remoteID, Name: n, Remote: true, CreatedAt: e.now()}
	if !*remote {
		var identity []byte
		if org, identity, err = newOrganisation(n, e.now()); err != nil {
			return err
		}
		if err := importStrict(ctx, ingest.New(st, e.logger), identity, "the organisation's identity"); err != nil {
			return err
		}
	}
	where := "hosted here"
	if org.Remote {
		where = "remote"
	}
	if err := st.CreateOrganisation(audited(ctx, e, "org.add", org.ID, fmt.Sprintf("name %q, %s", n, where)), org); err != nil {
		if errors.Is(err, store.ErrExists) {
			return withHint(fmt.Errorf("organisation %s exists already", org.ID), "'renkei org list' shows the organisations")
		}
		return fmt.Errorf("organisation %q: %w", n, err)
	}
	fmt.Fprintf(e.stdout, "added organisation %s (%s), %s\n", org.Name, org.ID, where)
	return nil
}

func runOrgList(ctx context.Context, e *env, args []string) (err error) {
	st, err := openForListing(ctx, e, "org", "List the organisations of this node.", args)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	node, err := st.NodeInfo(ctx)
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	orgs, err := st.ListOrganisations(ctx)
	if err != nil {
		return fmt.Errorf("organisations: %w", err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tCREATED\tHOSTED\tNODE OWNER")
	for _, o := range orgs {
		owner, hosted := "", "here"
		if o.ID == node.OwnerOrg {
			owner = "yes"
		}
		if o.Remote {
			hosted = "remote"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.Name, o.ID, listTime(o.CreatedAt, "-"), hosted, owner)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}
