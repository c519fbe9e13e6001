package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/renkei-cti/renkei/internal/ingest"
)

func runInit(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "init", "renkei init --org NAME [--admin NAME] [--data DIR]",
		`Create a node: the data directory and its database, the node record, the built-in TLP marking
definitions, a first organisation (a STIX identity object), its admin user and an API token for that
user. The token is printed once and cannot be shown again: only its SHA-256 is stored.
Running init on a directory that already holds a node is an error; nothing is changed.`)
	dir := f.dataDir()
	org := f.String("org", "", "the `name` of the organisation that runs the node (required)")
	admin := f.String("admin", "admin", "the `name` of the first admin user")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("init", "init takes no arguments, found %q", pos[0])
	}
	if strings.TrimSpace(*org) == "" {
		return usageError("init", "--org is required: the name of the organisation that runs this node")
	}
	if strings.TrimSpace(*admin) == "" {
		return usageError("init", "--admin must not be empty")
	}
	now := e.now()
	owner, identity, err := newOrganisation(strings.TrimSpace(*org), now)
	if err != nil {
		return err
	}
	st, err := createStore(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	res, err := initNode(ctx, st, ingest.New(st, e.logger), nodeSetup{
		Owner: owner, Identity: identity, AdminName: strings.TrimSpace(*admin), Now: now,
	})
	if err != nil {
		return fmt.Errorf("init %s: %w", *dir, err)
	}
	if err := audit(ctx, e, st, "node.init", res.Node.ID,
		fmt.Sprintf("owner organisation %s (%q), admin user %s (%q), one token", owner.ID, owner.Name, res.Admin.ID, res.Admin.Name)); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "initialised node %s in %s\n", res.Node.ID, *dir)
	fmt.Fprintf(e.stdout, "organisation: %s (%s)\n", owner.Name, owner.ID)
	fmt.Fprintf(e.stdout, "admin user:   %s\n", res.Admin.Name)
	fmt.Fprintf(e.stdout, "API token:    %s\n", string(res.Token))
	fmt.Fprintln(e.stdout, "Keep the token somewhere safe: it is shown only this once.")
	return nil
}
