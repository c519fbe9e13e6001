package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/renkei-cti/renkei/internal/correlate"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/store"
)

func runCorrelate(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "correlate", "renkei correlate [--data DIR] [--as USER] [--json] [--objects N] ID|VALUE | --report FILE | --all",
		"Who else reported this value: the objects sharing an IP address (and the CIDR blocks containing it),\n"+
			"a domain, URL, e-mail address or hash with the object ID, or with VALUE, with counts and first\n"+
			"and last seen.\n\n"+
			"--report FILE checks a report that need not be stored: a STIX bundle, array or object, or a list of\n"+
			"values one per line (- reads stdin). Every value it carries is looked up at once; the report's own\n"+
			"objects, if stored, do not count.\n\n"+
			"--all re-correlates everything: one pass over the store that writes, as JSON lines, every value\n"+
			"carried by two objects or more, with how many, their creators and first and last seen.\n\n"+
			"The operator sees every object; --as USER shows what that user may see.")
	dir := f.dataDir()
	as := f.String("as", "", "correlate as the `user` would see it, through the sharing policy")
	asJSON := f.Bool("json", false, "print JSON")
	report := f.String("report", "", "check the values of the report in `file` (- for stdin)")
	all := f.Bool("all", false, "re-correlate everything: JSON lines of every value two objects or more carry")
	objects := f.Int("objects", 0, fmt.Sprintf("list at most `n` objects per value (they are counted up to %d; default %d, and %d with --report and --all)",
		correlate.MaxPerValue, correlate.MaxPerValue, defaultListed))
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	modes := 0
	for _, on := range []bool{len(pos) > 0, *report != "", *all} {
		if on {
			modes++
		}
	}
	switch {
	case modes != 1:
		return usageError("correlate", "correlate takes one object id or value, or --report FILE, or --all")
	case len(pos) > 1:
		return usageError("correlate", "correlate takes one object id or value, found %d arguments", len(pos))
	case *objects < 0 || *objects > correlate.MaxPerValue:
		return usageError("correlate", "--objects must be between 1 and %d", correlate.MaxPerValue)
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
	opt.PerValue = *objects
	switch {
	case *all:
		if opt.PerValue == 0 {
			opt.PerValue = defaultListed
		}
		return correlateAll(ctx, e, st, opt)
	case *report != "":
		if opt.PerValue == 0 {
			opt.PerValue = defaultListed
		}
		return correlateReport(ctx, e, st, *report, opt, *asJSON)
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
	for _, v := range vals {
		if v.Count == 0 {
			fmt.Fprintf(e.stdout, "%s %s: not seen elsewhere\n", v.Kind, v.Value)
			continue
		}
		printValue(e.stdout, v, "")
	}
	if len(vals) == 0 {
		fmt.Fprintln(e.stdout, "the object carries no observable")
	}
	return nil
}

// defaultListed is how many objects --report and --all list per value unless --objects says.
const defaultListed = 10

// printValue writes one correlated value and its objects as text.
func printValue(w io.Writer, v correlate.Value, in string) {
	what := v.Kind + " " + v.Value
	if v.Via != "" {
		what += " (contains " + v.Via + ")"
	}
	more := ""
	if v.More {
		more = " or more"
	}
	fmt.Fprintf(w, "%s: %d%s objects from %d reporters, first seen %s, last seen %s%s\n", what, v.Count, more, v.Reporters,
		v.FirstSeen.UTC().Format(time.RFC3339), v.LastSeen.UTC().Format(time.RFC3339), in)
	for _, o := range v.Objects {
		by := o.CreatedByRef
		if by == "" {
			by = "no creator"
		}
		fmt.Fprintf(w, "  %s  %s\n", o.ID, by)
	}
	if n := v.Count - len(v.Objects); n > 0 {
		fmt.Fprintf(w, "  … and %d%s more\n", n, more)
	}
}

// correlateReport checks a report (a file, or - for stdin) against the store.
func correlateReport(ctx context.Context, e *env, st store.Objects, name string, opt correlate.Options, asJSON bool) error {
	r := e.stdin
	if name != "-" {
		fh, err := os.Open(name)
		if err != nil {
			return withHint(fmt.Errorf("correlate: %w", err), "give the path of a STIX bundle or of a list of values, or - to read stdin")
		}
		defer fh.Close()
		r = fh
	}
	in, err := correlate.ReadInput(r)
	if err != nil {
		return withHint(fmt.Errorf("correlate: %s: %w", name, err), "give a STIX bundle, array or object, or a list of values one per line")
	}
	res, err := correlate.Check(ctx, st, in, opt)
	if err != nil {
		return err
	}
	if asJSON {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, string(b))
		return nil
	}
	fmt.Fprintf(e.stdout, "%d objects, %d values: %d seen in the store\n", res.Objects, res.Values, res.Matched)
	for _, m := range res.Matches {
		in := ""
		if len(m.In) > 0 {
			in = " (in " + m.In[0]
			if len(m.In) > 1 {
				in += fmt.Sprintf(" and %d more", len(m.In)-1)
			}
			in += ")"
		}
		printValue(e.stdout, m.Value, in)
	}
	return nil
}

// correlateAll writes every shared value as a JSON line, and a summary on stderr.
func correlateAll(ctx context.Context, e *env, st store.Objects, opt correlate.Options) error {
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	var line []byte
	start := time.Now()
	stats, err := correlate.All(ctx, st, opt, func(v correlate.Value) error {
		line = v.AppendJSON(line[:0])
		_, err := w.Write(line)
		return err
	})
	if err := errors.Join(err, w.Flush()); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "%d values shared by %d objects in all, in %s\n", stats.Groups, stats.Carriers, time.Since(start).Round(time.Millisecond))
	return nil
}
