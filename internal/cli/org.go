package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/renkei-cti/renkei/internal/ingest"
)

const orgHelp = `usage: renkei org add [--data DIR] --name NAME
       renkei org list [--data DIR]

Add or list the organisations of this node. Each is a STIX identity object (identity_class
organization), stored like any other object, and its own creator.
`

func runOrg(ctx context.Context, e *env, args []string) error {
	return runSub(ctx, e, "org", orgHelp, []subcommand{{"add", runOrgAdd}, {"list", runOrgList}}, args)
}

func runOrgAdd(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "org", "renkei org add [--data DIR] --name NAME",
		"Add an organisation: a new STIX identity object and the node's record of it.")
	dir := f.dataDir()
	name := f.String("name", "", "the organisation's `name` (required, unique on the node)")
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
	org, identity, err := newOrganisation(n, e.now())
	if err != nil {
		return err
	}
	if err := importStrict(ctx, ingest.New(st, e.logger), identity, "the organisation's identity"); err != nil {
		return err
	}
	if err := st.CreateOrganisation(ctx, org); err != nil {
		return fmt.Errorf("organisation %q: %w", n, err)
	}
	if err := audit(ctx, e, st, "org.add", org.ID, fmt.Sprintf("name %q", n)); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "added organisation %s (%s)\n", org.Name, org.ID)
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
	fmt.Fprintln(tw, "NAME\tID\tCREATED\tNODE OWNER")
	for _, o := range orgs {
		owner := ""
		if o.ID == node.OwnerOrg {
			owner = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Name, o.ID, listTime(o.CreatedAt, "-"), owner)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}
