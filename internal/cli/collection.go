package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/store"
)

var aliasRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

const collectionHelp = `usage: renkei collection add [--data DIR] [--title T] [--description D] ALIAS
       renkei collection list [--data DIR]
       renkei collection grant [--data DIR] (--org ORG | --group GROUP | --user USER) [--read] [--write] COLLECTION

Add or list collections, and say who may read and write them over TAXII. A collection has a UUID
(its TAXII id) and a short alias used on the command line: lower-case letters, digits, '.', '_'
and '-', at most 64 characters.

A grant gives an organisation (name or identity id), a sharing group (name or id) or a user (name)
read and/or write access; grant with neither --read nor --write removes the subject's grant. Access
to a collection does not show every object in it: each object is still judged by the sharing
policy (docs/POLICY.md). A collection nobody was granted is served to nobody.
`

func runCollection(ctx context.Context, e *env, args []string) error {
	return runSub(ctx, e, "collection", collectionHelp, []subcommand{{"add", runCollectionAdd},
		{"list", runCollectionList}, {"grant", runCollectionGrant}}, args)
}

func runCollectionGrant(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "collection", "renkei collection grant [--data DIR] (--org ORG | --group GROUP | --user USER) [--read] [--write] COLLECTION",
		"Give an organisation, a sharing group or a user read and/or write access to a collection.")
	dir := f.dataDir()
	org := f.String("org", "", "the `organisation`: name or identity id")
	group := f.String("group", "", "the sharing `group`: name or id")
	user := f.String("user", "", "the `user`: name")
	read := f.Bool("read", false, "may read (GET objects, manifest, versions)")
	write := f.Bool("write", false, "may write (POST objects)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("collection", "collection grant takes exactly one collection, found %d arguments", len(pos))
	}
	n := 0
	for _, s := range []string{*org, *group, *user} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return usageError("collection", "give exactly one of --org, --group and --user")
	}
	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	c, err := findCollection(ctx, st, pos[0])
	if err != nil {
		return err
	}
	g := store.Grant{Collection: c.ID, Read: *read, Write: *write}
	switch {
	case *org != "":
		o, err := findOrg(ctx, st, *org)
		if err != nil {
			return err
		}
		g.Kind, g.Subject = store.GrantOrg, o.ID
	case *group != "":
		gr, err := st.Group(ctx, *group)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return withHint(fmt.Errorf("unknown group %q", *group), "'renkei group list' shows the groups")
			}
			return fmt.Errorf("group %q: %w", *group, err)
		}
		g.Kind, g.Subject = store.GrantGroup, gr.ID
	default:
		u, err := st.UserByName(ctx, *user)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return withHint(fmt.Errorf("unknown user %q", *user), "'renkei user list' shows the users")
			}
			return fmt.Errorf("user %q: %w", *user, err)
		}
		g.Kind, g.Subject = store.GrantUser, u.ID
	}
	what := grantText(g.Read, g.Write)
	if err := st.SetGrant(audited(ctx, e, "collection.grant", c.ID, fmt.Sprintf("%s %s: %s", g.Kind, g.Subject, what)), g); err != nil {
		return fmt.Errorf("grant: %w", err)
	}
	fmt.Fprintf(e.stdout, "%s %s on collection %s: %s\n", g.Kind, g.Subject, c.Alias, what)
	return nil
}

func grantText(read, write bool) string {
	switch {
	case read && write:
		return "read, write"
	case read:
		return "read"
	case write:
		return "write"
	}
	return "no access"
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
	if err := st.CreateCollection(audited(ctx, e, "collection.add", c.ID, fmt.Sprintf("alias %q, title %q", c.Alias, c.Title)), c); err != nil {
		if errors.Is(err, store.ErrExists) {
			return withHint(fmt.Errorf("collection %q: %w", alias, err), "'renkei collection list' shows the collections")
		}
		return fmt.Errorf("collection %q: %w", alias, err)
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
	fmt.Fprintln(tw, "ALIAS\tID\tCREATED\tTITLE\tGRANTS")
	for _, c := range cs {
		grants, err := st.Grants(ctx, c.ID)
		if err != nil {
			return fmt.Errorf("grants of %s: %w", c.Alias, err)
		}
		var gs []string
		for _, g := range grants {
			gs = append(gs, fmt.Sprintf("%s %s (%s)", g.Kind, g.Subject, grantText(g.Read, g.Write)))
		}
		if len(gs) == 0 {
			gs = []string{"-"}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Alias, c.ID, c.CreatedAt.UTC().Format(time.RFC3339), c.Title, strings.Join(gs, "; "))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}
