package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/store"
)

var aliasRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

func runCollection(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError("collection", "collection needs a subcommand: add or list")
	}
	switch args[0] {
	case "add":
		return runCollectionAdd(ctx, e, args[1:])
	case "list":
		return runCollectionList(ctx, e, args[1:])
	case "-h", "-help", "--help":
		fmt.Fprint(e.stdout, `usage: renkei collection add [--data DIR] [--title T] [--description D] ALIAS
       renkei collection list [--data DIR]

Add or list collections. A collection has a UUID (its TAXII id) and a short alias used on the
command line: lower-case letters, digits, '.', '_' and '-', at most 64 characters.
`)
		return errHelp
	}
	return usageError("collection", "unknown subcommand %q: use add or list", args[0])
}

func runCollectionAdd(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "collection", "renkei collection add [--data DIR] [--title T] [--description D] ALIAS",
		"Add a collection with a new UUID and the given alias.")
	dir := f.dataDir()
	title := f.String("title", "", "a human-readable `title` (default: the alias)")
	desc := f.String("description", "", "a `description`")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("collection", "collection add takes exactly one alias, found %d arguments", len(pos))
	}
	alias := pos[0]
	if !aliasRE.MatchString(alias) {
		return usageError("collection", "alias %q: use 1–64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", alias)
	}
	if *title == "" {
		*title = alias
	}
	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	c := store.Collection{ID: uuid.NewString(), Alias: alias, Title: *title, Description: *desc, CreatedAt: e.now()}
	if err := st.CreateCollection(ctx, c); err != nil {
		if errors.Is(err, store.ErrExists) {
			return withHint(fmt.Errorf("collection %q: %w", alias, err), "'renkei collection list' shows the collections")
		}
		return fmt.Errorf("collection %q: %w", alias, err)
	}
	if err := audit(ctx, e, st, "collection.add", c.ID, fmt.Sprintf("alias %q, title %q", c.Alias, c.Title)); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "added collection %s (%s)\n", c.Alias, c.ID)
	return nil
}

func runCollectionList(ctx context.Context, e *env, args []string) (err error) {
	st, err := openForListing(ctx, e, "collection", "List the collections.", args)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	cs, err := st.ListCollections(ctx)
	if err != nil {
		return fmt.Errorf("collections: %w", err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ALIAS\tID\tCREATED\tTITLE")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Alias, c.ID, c.CreatedAt.UTC().Format(time.RFC3339), c.Title)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}
