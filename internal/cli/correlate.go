package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/renkei-cti/renkei/internal/correlate"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/store"
)

func runCorrelate(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "correlate", "renkei correlate [--data DIR] [--as USER] [--json] ID|VALUE",
		"Who else reported this value: the objects sharing an IP address (and the CIDR blocks containing it),\n"+
			"a domain, URL, e-mail address or hash with the object ID, or with VALUE, with counts and first\n"+
			"and last seen. The operator sees every object; --as USER shows what that user may see.")
	dir := f.dataDir()
	as := f.String("as", "", "correlate as the `user` would see it, through the sharing policy")
	asJSON := f.Bool("json", false, "print JSON")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("correlate", "correlate takes one object id or value, found %d arguments", len(pos))
	}
	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	var opt correlate.Options
	if *as != "" {
		v, err := cliViewer(ctx, st, *as)
		if err != nil {
			return err
		}
		opt = correlate.Options{Scope: policy.StoreScope(v), Allow: func(ver *store.Version) bool {
			return policy.CanVersion(v, policy.ActionRead, ver).Allow
		}}
	}
	vals, err := correlate.Query(ctx, st, pos[0], opt)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return withHint(fmt.Errorf("no object %s", pos[0]), "give an object id this node holds, or a value")
	case errors.Is(err, correlate.ErrUnknownValue):
		return withHint(err, "give an object id (type--uuid) or an IP address, CIDR block, domain, URL, e-mail address or hash")
	case err != nil:
		return err
	}
	if *asJSON {
		b, err := json.MarshalIndent(map[string]any{"values": vals}, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, string(b))
		return nil
	}
	seen := 0
	for _, v := range vals {
		if v.Count == 0 {
			fmt.Fprintf(e.stdout, "%s %s: not seen elsewhere\n", v.Kind, v.Value)
			continue
		}
		seen++
		what := v.Kind + " " + v.Value
		if v.Via != "" {
			what += " (contains " + v.Via + ")"
		}
		more := ""
		if v.More {
			more = " or more"
		}
		fmt.Fprintf(e.stdout, "%s: %d%s objects from %d reporters, first seen %s, last seen %s\n", what, v.Count, more, v.Reporters,
			v.FirstSeen.UTC().Format(time.RFC3339), v.LastSeen.UTC().Format(time.RFC3339))
		for _, o := range v.Objects {
			by := o.CreatedByRef
			if by == "" {
				by = "no creator"
			}
			fmt.Fprintf(e.stdout, "  %s  %s\n", o.ID, by)
		}
	}
	if len(vals) == 0 {
		fmt.Fprintln(e.stdout, "the object carries no observable")
	}
	return nil
}
