package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/server"
	"github.com/renkei-cti/renkei/internal/store"
)

const tokenHelp = `usage: renkei token create [--data DIR] --user NAME [--expires DURATION]
       renkei token list [--data DIR] --user NAME
       renkei token revoke [--data DIR] ID

Create, list or revoke API tokens. A token is printed once, when it is created: the node keeps
only its SHA-256. Lists show a token's id and dates, never the token. A revoked token stops
working at once, on a running server too.
`

// defaultTokenLife is how long a new token lasts unless --expires says otherwise.
const defaultTokenLife = 720 * time.Hour

func runToken(ctx context.Context, e *env, args []string) error {
	return runSub(ctx, e, "token", tokenHelp, []subcommand{{"create", runTokenCreate}, {"list", runTokenList}, {"revoke", runTokenRevoke}}, args)
}

func runTokenCreate(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "token", "renkei token create [--data DIR] --user NAME [--expires DURATION]",
		"Create an API token for a user and print it, once.")
	dir := f.dataDir()
	name := f.String("user", "", "the `name` of the user the token is for (required)")
	expires := f.Duration("expires", defaultTokenLife, "how long the token lasts, e.g. 24h (0: it never expires)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("token", "token create takes no arguments, found %q", pos[0])
	}
	if *name == "" {
		return usageError("token", "--user is required")
	}
	if *expires < 0 {
		return usageError("token", "--expires %v: a token's life cannot be negative", *expires)
	}
	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	u, err := findUser(ctx, st, *name)
	if err != nil {
		return err
	}
	if u.Disabled {
		return withHint(fmt.Errorf("user %q is disabled", u.Name), "a disabled user's tokens are refused; create a new user instead")
	}
	secret, hash, err := server.NewToken()
	if err != nil {
		return err
	}
	now := e.now()
	t := store.Token{ID: uuid.NewString(), UserID: u.ID, Hash: hash, CreatedAt: now}
	if *expires > 0 {
		t.ExpiresAt = now.Add(*expires)
	}
	actx := audited(ctx, e, "token.create", t.ID, fmt.Sprintf("user %s, expires %s", u.ID, listTime(t.ExpiresAt, "never")))
	if err := st.CreateToken(actx, t); err != nil {
		return fmt.Errorf("token for %q: %w", u.Name, err)
	}
	fmt.Fprintf(e.stdout, "token id:     %s\n", t.ID)
	fmt.Fprintf(e.stdout, "user:         %s\n", u.Name)
	fmt.Fprintf(e.stdout, "expires:      %s\n", listTime(t.ExpiresAt, "never"))
	fmt.Fprintf(e.stdout, "API token:    %s\n", string(secret))
	fmt.Fprintln(e.stdout, "Keep the token somewhere safe: it is shown only this once.")
	return nil
}

func runTokenList(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "token", "renkei token list [--data DIR] --user NAME",
		"List a user's tokens: ids and dates, never the tokens themselves.")
	dir := f.dataDir()
	name := f.String("user", "", "the `name` of the user (required)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("token", "token list takes no arguments, found %q", pos[0])
	}
	if *name == "" {
		return usageError("token", "--user is required")
	}
	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	u, err := findUser(ctx, st, *name)
	if err != nil {
		return err
	}
	ts, err := st.ListTokens(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("tokens of %q: %w", u.Name, err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tEXPIRES\tREVOKED")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, listTime(t.CreatedAt, "-"), listTime(t.ExpiresAt, "never"), listTime(t.RevokedAt, "-"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the output: %w", err)
	}
	return nil
}

func runTokenRevoke(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "token", "renkei token revoke [--data DIR] ID",
		"Revoke a token by its id (from 'renkei token list'): it stops working at once.")
	dir := f.dataDir()
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("token", "token revoke takes exactly one token id, found %d arguments", len(pos))
	}
	id := pos[0]
	if _, perr := uuid.Parse(id); perr != nil || len(id) != 36 {
		return usageError("token", "%q is not a token id: give the id 'renkei token list' shows, not the token", id)
	}
	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	if err := st.RevokeToken(audited(ctx, e, "token.revoke", id, ""), id, e.now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return withHint(fmt.Errorf("unknown token %s", id), "'renkei token list --user NAME' shows a user's tokens")
		}
		return fmt.Errorf("token %s: %w", id, err)
	}
	fmt.Fprintf(e.stdout, "revoked token %s\n", id)
	return nil
}
