package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/renkei-cti/renkei/internal/formats/misp"
	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// mispFlags are the flags of `renkei import --format misp|misp-feed|misp-galaxy`.
type mispFlags struct {
	galaxy        *string
	feedState     *string
	allowPrivate  *bool
	allowInsecure bool // tests only: http:// feeds
}

func addMISPFlags(f *flagSet) *mispFlags {
	return &mispFlags{
		galaxy:       f.String("galaxy", "", "with --format misp|misp-feed: a MISP galaxy clusters `file` that resolves misp-galaxy:threat-actor tags"),
		feedState:    f.String("feed-state", "", "with --format misp-feed: the `file` that remembers the events already imported (created if absent)"),
		allowPrivate: f.Bool("allow-private-addresses", false, "with --format misp-feed: allow fetching from loopback, link-local and private addresses"),
	}
}

// isMISPFormat reports whether runImportMISP handles a --format value.
func isMISPFormat(format string) bool {
	switch format {
	case "misp", "misp-feed", "misp-galaxy":
		return true
	}
	return false
}

// runImportMISP converts MISP input to STIX and imports it: events (files or stdin), a feed (a
// directory or an https:// URL) or a galaxy clusters file.
func runImportMISP(ctx context.Context, e *env, st store.Store, im *ingest.Importer, opt ingest.Options, format string, files []string, mf *mispFlags) error {
	// A MISP event is decoded whole before it is converted (its tags and distribution may come after
	// its attributes), so its import holds it: under the soft heap limit of a streaming STIX import
	// (ingest.LimitHeap) the collector would run without pause and take most of the time. Lift the
	// limit for this import, unless the operator set GOMEMLIMIT.
	if e.getenv("GOMEMLIMIT") == "" {
		prev := debug.SetMemoryLimit(math.MaxInt64)
		defer debug.SetMemoryLimit(prev)
	}
	var g *misp.Galaxy
	if *mf.galaxy != "" {
		fh, err := os.Open(*mf.galaxy)
		if err != nil {
			return withHint(fmt.Errorf("import: galaxy: %w", err), "give the path of a MISP galaxy clusters file such as threat-actor.json")
		}
		g, err = misp.DecodeGalaxy(fh, misp.Limits{})
		fh.Close()
		if err != nil {
			return fmt.Errorf("import: galaxy %s: %w", *mf.galaxy, err)
		}
	}
	var total ingest.Report
	var (
		counts misp.Counts // summed over the events
		events int
	)
	printed := 0
	note := func(format string, args ...any) {
		if printed < maxRejectedLines {
			fmt.Fprintf(e.stderr, format+"\n", args...)
		}
		printed++
	}
	recordImport := func(name string, rep ingest.Report, err error) error {
		total.Accepted += rep.Accepted
		total.Duplicate += rep.Duplicate
		total.Rejected += rep.Rejected
		for _, oe := range rep.Errors {
			note("rejected: %s: %v", name, oe)
		}
		detail := fmt.Sprintf("%s (%s): accepted %d, duplicate %d, rejected %d", name, format, rep.Accepted, rep.Duplicate, rep.Rejected)
		if aerr := audit(context.WithoutCancel(ctx), e, st, "import", name, detail); aerr != nil {
			return errors.Join(err, aerr)
		}
		if err != nil {
			return fmt.Errorf("import %s: %w", name, err)
		}
		return nil
	}
	importObjects := func(name string, bundle []byte) error {
		rep, err := im.Import(ctx, bytes.NewReader(bundle), opt)
		return recordImport(name, rep, err)
	}
	importEvent := func(ctx context.Context, ev *misp.Event) error {
		res, err := importConverted(ctx, im, opt, ev, misp.Options{Galaxy: g}, func(rep ingest.Report, err error) error {
			return recordImport("event "+ev.UUID, rep, err)
		})
		if res == nil {
			return err // not converted, or converted in part: nothing to count
		}
		c := res.Counts
		counts.Attributes += c.Attributes
		counts.Indicators += c.Indicators
		counts.Observables += c.Observables
		counts.Notes += c.Notes
		counts.References += c.References
		counts.Vulnerabilities += c.Vulnerabilities
		counts.Skipped += c.Skipped
		counts.EventReports += c.EventReports
		events++
		for _, s := range res.Skipped {
			note("skipped: %s", s)
		}
		for _, w := range res.Warnings {
			note("warning: event %s: %s", ev.UUID, w)
		}
		return err
	}

	var runErr error
	switch format {
	case "misp":
		if len(files) == 0 {
			return usageError("import", "import --format misp needs at least one MISP event file, or - for stdin")
		}
		for _, name := range files {
			evs, err := readMISPEvents(e, name)
			if err == nil {
				for _, ev := range evs {
					if err = importEvent(ctx, ev); err != nil {
						break
					}
				}
			}
			if err != nil {
				runErr = err
				break
			}
		}
	case "misp-galaxy":
		if len(files) != 1 {
			return usageError("import", "import --format misp-galaxy needs one galaxy clusters file")
		}
		fh, err := os.Open(files[0])
		if err != nil {
			return withHint(fmt.Errorf("import: %w", err), "give the path of a MISP galaxy clusters file such as threat-actor.json")
		}
		gal, err := misp.DecodeGalaxy(fh, misp.Limits{})
		fh.Close()
		if err != nil {
			return fmt.Errorf("import %s: %w", files[0], err)
		}
		objs, err := gal.ToSTIX()
		if err != nil {
			return fmt.Errorf("import %s: %w", files[0], err)
		}
		for _, s := range objs.Skipped {
			note("skipped: %s", s)
		}
		fmt.Fprintf(e.stdout, "clusters %d, skipped %d\n", objs.Clusters, len(objs.Skipped))
		runErr = importObjects(files[0], objs.Bundle())
	case "misp-feed":
		if len(files) != 1 {
			return usageError("import", "import --format misp-feed needs one feed: a directory or an https:// URL")
		}
		rep, err := importFeed(ctx, files[0], mf, importEvent)
		fmt.Fprintf(e.stdout, "feed events %d, read %d, unchanged %d, failed %d\n", rep.Listed, rep.Read, rep.Unchanged, len(rep.Failed))
		for _, f := range rep.Failed {
			note("failed: %s", f)
		}
		runErr = err
		if runErr == nil && len(rep.Failed) > 0 {
			runErr = withHint(fmt.Errorf("%d feed events could not be read", len(rep.Failed)),
				"the lines starting with 'failed:' say which and why; they are tried again on the next run")
		}
	}
	if printed > maxRejectedLines {
		fmt.Fprintf(e.stderr, "… and %d more lines\n", printed-maxRejectedLines)
	}
	if format != "misp-galaxy" {
		fmt.Fprintf(e.stdout, "events %d, attributes %d: indicators %d, observables %d, notes %d, references %d, vulnerabilities %d, skipped %d; event reports %d\n",
			events, counts.Attributes, counts.Indicators, counts.Observables, counts.Notes, counts.References, counts.Vulnerabilities, counts.Skipped,
			counts.EventReports)
	}
	return finishImport(e, total, runErr)
}

func readMISPEvents(e *env, name string) ([]*misp.Event, error) {
	var r io.Reader = e.stdin
	if name != "-" {
		fh, err := os.Open(name)
		if err != nil {
			return nil, withHint(fmt.Errorf("import: %w", err), "give the path of a MISP event file, or - to read stdin")
		}
		defer fh.Close()
		r = fh
	}
	evs, err := misp.DecodeEvents(r, misp.Limits{})
	if err != nil {
		return nil, withHint(fmt.Errorf("import %s: %w", name, err),
			`--format misp reads MISP events: {"Event": {…}}, an array of them, or {"response": […]}`)
	}
	return evs, nil
}

// importFeed reads a feed from a directory or a URL, with its state file.
func importFeed(ctx context.Context, src string, mf *mispFlags, fn func(context.Context, *misp.Event) error) (misp.FeedReport, error) {
	var f misp.Fetcher
	if strings.Contains(src, "://") {
		hf, err := newHTTPFetcher(src, *mf.allowPrivate, mf.allowInsecure)
		if err != nil {
			return misp.FeedReport{}, withHint(err, "give a feed directory or an https:// URL")
		}
		f = hf
	} else {
		if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
			return misp.FeedReport{}, withHint(fmt.Errorf("import: feed %s is not a directory", src), "give a feed directory (holding manifest.json) or an https:// URL")
		}
		f = misp.FSFetcher{FS: os.DirFS(src)}
	}
	state := &misp.FeedState{}
	if *mf.feedState != "" {
		data, err := os.ReadFile(*mf.feedState)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return misp.FeedReport{}, fmt.Errorf("import: feed state: %w", err)
		}
		if state, err = misp.LoadFeedState(bytes.NewReader(data)); err != nil {
			return misp.FeedReport{}, fmt.Errorf("import: feed state %s: %w", *mf.feedState, err)
		}
	}
	rep, err := misp.ReadFeed(ctx, f, state, misp.Limits{}, fn)
	if *mf.feedState != "" {
		// What was imported is recorded even when the read stopped part-way.
		if serr := saveFeedState(*mf.feedState, state); serr != nil {
			err = errors.Join(err, serr)
		}
	}
	return rep, err
}

// saveFeedState writes the state next to its file and renames it into place.
func saveFeedState(path string, st *misp.FeedState) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".feed-state-*")
	if err != nil {
		return fmt.Errorf("feed state: %w", err)
	}
	werr := st.Save(tmp)
	if err := tmp.Sync(); werr == nil {
		werr = err
	}
	if err := tmp.Close(); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("feed state %s: %w", path, werr)
	}
	return nil
}

// importConverted converts a MISP event and imports its objects as they are made: the converter
// runs on the importer's producing goroutine and hands it each object already decoded (it validated
// it), so that converting, digesting and writing overlap, nothing is decoded twice and the STIX of a
// large event is never held whole. When the event cannot be converted at all, nothing is imported
// and the result is nil. Otherwise record is called once with the import's report and error (the
// conversion's, when it failed part-way).
func importConverted(ctx context.Context, im *ingest.Importer, opt ingest.Options, ev *misp.Event, mo misp.Options,
	record func(ingest.Report, error) error) (*misp.Result, error) {
	var (
		res     *misp.Result
		convErr error
		objects int
	)
	seq := func(yield func(*stix.Object, error) bool) {
		res, convErr = misp.Convert(ev, mo, func(_ []byte, obj *stix.Object) error {
			objects++
			if !yield(obj, nil) {
				return errImportStopped
			}
			return nil
		})
		if convErr != nil && objects > 0 && !errors.Is(convErr, errImportStopped) {
			yield(nil, convErr)
		}
	}
	rep, err := im.ImportDecoded(ctx, seq, opt)
	switch {
	case convErr == nil, errors.Is(convErr, errImportStopped):
		// The import's own error, if any, says what stopped it.
	case objects == 0:
		return nil, convErr // nothing was emitted, so nothing was imported
	default:
		err = fmt.Errorf("the conversion failed after %d objects, which were imported: %w", objects, convErr)
	}
	return res, record(rep, err)
}

// errImportStopped ends a conversion whose importer stopped reading.
var errImportStopped = errors.New("the import stopped")
