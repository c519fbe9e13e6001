package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	res, err := initDir(ctx, e, *dir, nodeSetup{
		Owner: owner, Identity: identity, AdminName: strings.TrimSpace(*admin), Now: now,
	})
	if err != nil {
		return fmt.Errorf("init %s: %w", *dir, err)
	}
	fmt.Fprintf(e.stdout, "initialised node %s in %s\n", res.Node.ID, *dir)
	fmt.Fprintf(e.stdout, "organisation: %s (%s)\n", owner.Name, owner.ID)
	fmt.Fprintf(e.stdout, "admin user:   %s\n", res.Admin.Name)
	fmt.Fprintf(e.stdout, "API token:    %s\n", string(res.Token))
	fmt.Fprintln(e.stdout, "Keep the token somewhere safe: it is shown only this once.")
	return nil
}

// initDir makes dir a node. A node is built in a sibling directory and renamed into place only once
// it is complete, so an init that crashes part-way leaves no half-made node behind, and running init
// again starts afresh. On a directory that already holds a node, initNode refuses with
// store.ErrInitialized and changes nothing.
func initDir(ctx context.Context, e *env, dir string, s nodeSetup) (res initialised, err error) {
	if _, statErr := os.Stat(dbPath(dir)); statErr == nil {
		st, err := createStore(ctx, dir, e.logger)
		if err != nil {
			return res, err
		}
		defer closeStore(st, &err)
		return initNode(ctx, st, ingest.New(st, e.logger), s)
	}
	if fi, lerr := os.Lstat(dir); lerr == nil && !fi.IsDir() {
		return res, withHint(fmt.Errorf("%s exists and is not a directory", dir), "give init a new or empty directory")
	}
	if entries, rerr := os.ReadDir(dir); rerr == nil && len(entries) > 0 {
		return res, withHint(fmt.Errorf("%s exists and is not empty, but holds no node", dir),
			"give init a new or empty directory")
	}
	parent, base := filepath.Split(filepath.Clean(dir))
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return res, fmt.Errorf("creating %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".init-")
	if err != nil {
		return res, fmt.Errorf("creating a directory beside %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.RemoveAll(tmp))
		}
	}()
	st, err := createStore(ctx, tmp, e.logger)
	if err != nil {
		return res, err
	}
	res, err = initNode(ctx, st, ingest.New(st, e.logger), s)
	if err == nil {
		err = audit(ctx, e, st, "node.init", res.Node.ID, fmt.Sprintf("owner organisation %s (%q), admin user %s (%q), one token",
			s.Owner.ID, s.Owner.Name, res.Admin.ID, res.Admin.Name))
	}
	if cerr := st.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("closing the store: %w", cerr))
	}
	if err != nil {
		return res, err
	}
	// An empty directory named dir is replaced (os.Remove removes only an empty one); the rename
	// itself is atomic.
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return res, fmt.Errorf("replacing the empty directory %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return res, fmt.Errorf("moving the new node into place: %w", err)
	}
	return res, nil
}
