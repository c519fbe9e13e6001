package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/match"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

func runMatch(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "match", "renkei match [--data DIR] [--format jsonl|zeek|csv|text] [--sightings] [--as USER] [--rebuild-index] FILE|- ...",
		`Match logs against the node's active STIX indicators (not revoked, inside valid_from/valid_until,
pattern_type stix). Each value a log line holds (addresses, domains, URLs, email addresses, hashes)
is looked up in an index of the indicators' values; a pattern is evaluated in full on the line's
values only when one of its values hits. Prints one JSON line per hit on stdout:
{"line":…, "offset":…, "time":…, "kind":…, "value":…, "indicators":[ids]}, and a summary on stderr.
Formats: text (free text; the default), jsonl and csv (fields mapped by --field, else common field
names), zeek (TSV logs with #fields headers). With --as USER only the indicators that user may read
give hits. With --sightings one STIX sighting per indicator hit (count, first_seen, last_seen) is
stored, created by and sighted at the node owner's organisation (--as: the user's).
The compiled index is kept in DIR/match.idx and reused while no indicator, marking definition or
organisation changed and no valid_from/valid_until passed; otherwise it is compiled again and
the file replaced (not with --at, which leaves the file as it is).`)
	dir := f.dataDir()
	format := f.String("format", "text", "log `format`: "+match.FormatNames)
	var fields []string
	f.Func("field", "map a JSON member or CSV column to a kind, `name=kind` (ip, ipv4, ipv6, domain, host, url, email, hash; repeatable)", func(s string) error {
		fields = append(fields, s)
		return nil
	})
	timeField := f.String("time-field", "", "JSON member or CSV column holding the line's time")
	noHeader := f.Bool("no-header", false, "csv: the first line is data; --field names columns by number")
	sightings := f.Bool("sightings", false, "store STIX sightings of the indicators hit")
	as := f.String("as", "", "match only against the indicators this `user` may read, and sight as their organisation")
	atText := f.String("at", "", "judge indicator validity at this RFC 3339 `time` (default: now)")
	rebuild := f.Bool("rebuild-index", false, "compile the index from the store even when "+match.IndexFileName+" is up to date")
	files, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usageError("match", "match needs at least one file, or - for stdin")
	}
	if n := countStdin(files); n > 1 {
		return usageError("match", "stdin (-) can be read only once, found it %d times", n)
	}
	fo := match.FormatOptions{Name: *format, TimeField: *timeField, NoHeader: *noHeader}
	for _, s := range fields {
		name, k, err := match.ParseField(s)
		if err != nil {
			return usageError("match", "--field: %v", err)
		}
		if fo.Fields == nil {
			fo.Fields = map[string]match.Kind{}
		}
		fo.Fields[name] = k
	}
	lf, err := match.NewFormat(fo)
	if err != nil {
		return usageError("match", "--format: %v", err)
	}
	at := e.now()
	if *atText != "" {
		ts, err := stix.ParseTimestamp(*atText)
		if err != nil {
			return usageError("match", "--at: %v", err)
		}
		at = ts.Time()
	}

	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	node, err := st.NodeInfo(ctx)
	if err != nil {
		return fmt.Errorf("match: %w", err)
	}
	org := node.OwnerOrg
	var allow func(*store.Version) bool // nil: the operator sees every indicator
	if *as != "" {
		v, err := cliViewer(ctx, st, *as)
		if err != nil {
			return err
		}
		org = v.Org
		allow = func(ver *store.Version) bool { return policy.CanVersion(v, policy.ActionRead, ver).Allow }
	}
	comp, info, err := match.Load(ctx, st, match.LoadOptions{Path: filepath.Join(*dir, match.IndexFileName),
		Rebuild: *rebuild, NoWrite: *atText != "", Compile: match.CompileOptions{At: at, Logger: e.logger}})
	if err != nil {
		return fmt.Errorf("match: %w", err)
	}
	defer func() {
		if cerr := comp.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("match: %w", cerr))
		}
	}()
	switch {
	case info.Loaded:
		fmt.Fprintf(e.stderr, "index %s loaded in %s\n", match.IndexFileName, info.Took.Round(time.Millisecond))
	case info.Written:
		fmt.Fprintf(e.stderr, "index compiled in %s (%s), written to %s\n", info.Took.Round(time.Millisecond), info.Why, match.IndexFileName)
	default:
		fmt.Fprintf(e.stderr, "index compiled in %s (%s)\n", info.Took.Round(time.Millisecond), info.Why)
	}
	view := comp.NewViewFilter(allow)
	m := &match.Matcher{Source: comp.Index, Verify: comp.Verify}
	out := bufio.NewWriterSize(e.stdout, 64<<10)
	var sight match.Sightings
	var total match.Stats
	hitIDs := map[string]bool{}
	var line []byte
	emit := func(h *match.Hit) error {
		refs := view.Filter(h.Refs)
		if len(refs) == 0 {
			return nil
		}
		total.Hits++
		rec := comp.Record(h, refs)
		for _, id := range rec.Indicators {
			hitIDs[id] = true
		}
		if *sightings {
			t := h.Time
			if t.IsZero() {
				t = at
			}
			sight.Add(&rec, t)
		}
		var err error
		if line, err = rec.AppendJSON(line[:0]); err != nil {
			return err
		}
		_, err = out.Write(line)
		return err
	}
	var runErr error
	for _, name := range files {
		stats, err := matchOne(ctx, e, m, lf, name, emit)
		total.Lines += stats.Lines
		total.Bytes += stats.Bytes
		if err != nil {
			runErr = err
			break
		}
	}
	if ferr := out.Flush(); ferr != nil && runErr == nil {
		runErr = fmt.Errorf("match: writing hits: %w", ferr)
	}
	fmt.Fprintf(e.stderr, "indicators %d active (%d read), lines %d, hits %d, indicators hit %d\n",
		comp.Stats.Active, comp.Stats.Read, total.Lines, total.Hits, len(hitIDs))
	detail := fmt.Sprintf("%s: %d lines, %d hits", strings.Join(files, ", "), total.Lines, total.Hits)
	if *as != "" {
		detail += ", as " + *as
	}
	if *sightings && runErr == nil && sight.Len() > 0 {
		n, err := storeSightings(ctx, e, st, &sight, org)
		if err != nil {
			runErr = err
		} else {
			fmt.Fprintf(e.stderr, "sightings stored %d\n", n)
			detail += fmt.Sprintf(", %d sightings", n)
		}
	}
	if aerr := audit(context.WithoutCancel(ctx), e, st, "match", strings.Join(files, ","), detail); aerr != nil {
		runErr = errors.Join(runErr, aerr)
	}
	return runErr
}

// storeSightings imports the sightings as the node's operator would, created by and sighted at org.
func storeSightings(ctx context.Context, e *env, st store.Store, s *match.Sightings, org string) (int, error) {
	b, err := s.Bundle(org, org, e.now())
	if err != nil {
		return 0, fmt.Errorf("match: %w", err)
	}
	rep, err := ingest.New(st, e.logger).Import(ctx, bytes.NewReader(b), ingest.Options{})
	if err != nil {
		return rep.Accepted, fmt.Errorf("match: storing sightings: %w", err)
	}
	if rep.Rejected > 0 {
		return rep.Accepted, fmt.Errorf("match: %d of %d sightings were rejected: %v", rep.Rejected, s.Len(), rep.Errors[0])
	}
	return rep.Accepted, nil
}

// cliViewer builds the policy viewer of a user of this node, as the server does from a token.
func cliViewer(ctx context.Context, st store.Store, name string) (policy.Viewer, error) {
	u, err := st.UserByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return policy.Viewer{}, withHint(fmt.Errorf("--as: no user %q", name), "'renkei user list' lists the users")
	}
	if err != nil {
		return policy.Viewer{}, fmt.Errorf("--as: %w", err)
	}
	if u.Disabled {
		return policy.Viewer{}, fmt.Errorf("--as: user %q is disabled", name)
	}
	v, err := policy.ViewerFor(ctx, st, u)
	if err != nil {
		return policy.Viewer{}, fmt.Errorf("--as: %w", err)
	}
	return v, nil
}

// matchOne matches one file (or stdin), showing progress when stderr is a terminal.
func matchOne(ctx context.Context, e *env, m *match.Matcher, f match.Format, name string, emit func(*match.Hit) error) (match.Stats, error) {
	in, err := openInput(e, name, "match", "give the path of a log file, or - to read stdin")
	if err != nil {
		return match.Stats{}, err
	}
	defer in.close()
	r, label, size := in.r, in.label, in.size
	if isTerminal(e.stderr) {
		cr := &countingReader{r: r}
		r = cr
		done := make(chan struct{})
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			t := time.NewTicker(200 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					fmt.Fprint(e.stderr, "\r\x1b[K")
					return
				case <-t.C:
					fmt.Fprint(e.stderr, "\r\x1b[K"+matchProgress(label, cr.n.Load(), size))
				}
			}
		}()
		defer func() { close(done); <-stopped }()
	}
	stats, err := m.Run(ctx, r, f, emit)
	if err != nil {
		return stats, fmt.Errorf("match %s: %w", label, err)
	}
	return stats, nil
}

// matchProgress renders the progress line of one input.
func matchProgress(label string, read, total int64) string {
	if total <= 0 {
		return fmt.Sprintf("%s: %s read", label, humanBytes(read))
	}
	frac := min(float64(read)/float64(total), 1)
	filled := int(frac * barWidth)
	return fmt.Sprintf("%s [%s%s] %3.0f%% %s/%s", label, strings.Repeat("#", filled),
		strings.Repeat(" ", barWidth-filled), frac*100, humanBytes(read), humanBytes(total))
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
