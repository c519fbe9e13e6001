package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/taxiiclient"
)

// pullProgressEvery is how many pages pass between progress lines when stderr is not a terminal.
const pullProgressEvery = 100

// cursorFile is what --cursor-file holds: where a pull of one collection stopped.
type cursorFile struct {
	APIRoot    string `json:"api_root"`
	Collection string `json:"collection"`
	// Start is the added_after the query that Cursor.Next belongs to began from (a server binds next
	// to its query).
	Start  *taxiiclient.Cursor `json:"start"`
	Cursor taxiiclient.Cursor  `json:"cursor"`
}

func runTaxiiPull(ctx context.Context, e *env, args []string) (err error) {
	f, conn := newTaxiiFlags(e, "pull", "renkei taxii pull URL --collection ID [--data DIR] [--into C] [--cursor-file F] [connection flags]",
		`Copy a remote collection's objects into this node, page by page, through the same pipeline as
'renkei import': every version of every object (match[version]=all), stored exactly as received.
With --cursor-file, the position after each page durably stored is written to the file, and the
next pull with the same file resumes from there. Progress goes to stderr ("pulled N objects, M
pages"); the import summary to stdout. Exit status 1 when any object was rejected.`)
	dir := f.dataDir()
	collection := f.String("collection", "", "the remote collection's `id` (required)")
	into := f.String("into", "", "also add the objects to this local `collection` (alias or id)")
	cursorPath := f.String("cursor-file", "", "resume from, and record progress in, this `file`")
	pageSize := f.Int("page-size", 0, "ask for at most `N` objects a page (0: the server's choice)")
	specVersions := f.String("spec-version", "", "match[spec_version]: STIX `versions`, comma-separated (default: the server's, the latest)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	raw, err := oneURL("pull", pos)
	if err != nil {
		return err
	}
	if *collection == "" {
		return usageError("taxii", "taxii pull needs --collection ID ('renkei taxii collections URL' lists them)")
	}
	if *pageSize < 0 {
		return usageError("taxii", "--page-size %d: give a positive number, or 0", *pageSize)
	}
	cl, path, err := conn.client(e, raw)
	if err != nil {
		return err
	}
	root, err := apiRoot(ctx, cl, path)
	if err != nil {
		return err
	}
	rootURL, err := cl.Resolve(root)
	if err != nil {
		return err
	}
	state := cursorFile{APIRoot: rootURL.String(), Collection: *collection}
	if *cursorPath != "" {
		if state, err = readCursorFile(*cursorPath, state); err != nil {
			return err
		}
	}

	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	opt := ingest.Options{}
	if *into != "" {
		c, err := findCollection(ctx, st, *into)
		if err != nil {
			return err
		}
		opt.Collection = c.ID
	}
	im := ingest.New(st, e.logger)
	defer ingest.LimitHeap()()

	q := taxiiclient.Query{Limit: *pageSize, Versions: []string{"all"}, SpecVersions: commaList(*specVersions)}
	q.AddedAfter = state.Cursor.AddedAfter
	if state.Cursor.Next != "" && state.Start != nil {
		q.AddedAfter, q.Next = state.Start.AddedAfter, state.Cursor.Next
	}
	p := &puller{e: e, im: im, opt: opt, cursorPath: *cursorPath, state: state, terminal: isTerminal(e.stderr)}
	runErr := p.run(ctx, cl, root, q)
	if runErr != nil && q.Next != "" && p.pages == 0 && errors.Is(runErr, taxiiclient.ErrBadRequest) {
		// The server no longer takes the saved next value (it expired, or the server restarted):
		// go on from the last page stored.
		e.logger.Warn("the server refused the saved next value; resuming from added_after", "added_after", taxiiclient.FormatTimestamp(state.Cursor.AddedAfter))
		q.AddedAfter, q.Next = state.Cursor.AddedAfter, ""
		runErr = p.run(ctx, cl, root, q)
	}
	p.clearProgress()
	fmt.Fprintf(e.stderr, "pulled %d objects, %d pages\n", p.objects, p.pages)
	detail := fmt.Sprintf("%s collection %s: %d pages, accepted %d, duplicate %d, rejected %d",
		state.APIRoot, *collection, p.pages, p.total.Accepted, p.total.Duplicate, p.total.Rejected)
	if aerr := audit(context.WithoutCancel(ctx), e, st, "taxii.pull", state.APIRoot, detail); aerr != nil {
		runErr = errors.Join(runErr, aerr)
	}
	if more := p.total.Rejected - p.printed; more > 0 && p.printed > 0 {
		fmt.Fprintf(e.stderr, "rejected: … and %d more\n", more)
	}
	fmt.Fprintf(e.stdout, "accepted %d, duplicate %d, rejected %d\n", p.total.Accepted, p.total.Duplicate, p.total.Rejected)
	switch {
	case runErr != nil:
		return runErr
	case p.total.Rejected > 0:
		return withHint(fmt.Errorf("%d objects were rejected", p.total.Rejected),
			"the lines starting with 'rejected:' say which object and why; the other objects were kept")
	}
	return nil
}

// puller stores pages and records the cursor.
type puller struct {
	e          *env
	im         *ingest.Importer
	opt        ingest.Options
	cursorPath string
	state      cursorFile
	terminal   bool

	pages, objects int
	total          ingest.Report
	printed        int
	drawn          bool
}

func (p *puller) run(ctx context.Context, cl *taxiiclient.Client, root string, q taxiiclient.Query) error {
	// start is the added_after of the query the server's next values belong to: it changes when the
	// pages go on by added_after.
	start := q.AddedAfter
	for page, err := range cl.ObjectsNext(ctx, root, p.state.Collection, q) {
		if err != nil {
			return taxiiError(err)
		}
		if len(page.Objects) > 0 {
			if err := p.store(ctx, page.Objects); err != nil {
				return err
			}
		}
		p.pages++
		p.objects += len(page.Objects)
		p.state.Cursor, p.state.Start = page.Cursor, nil
		if page.Next != "" {
			p.state.Start = &taxiiclient.Cursor{AddedAfter: start}
		} else {
			start = page.Cursor.AddedAfter
		}
		if p.cursorPath != "" {
			if err := writeCursorFile(p.cursorPath, p.state); err != nil {
				return err
			}
		}
		p.progress()
	}
	return nil
}

// store imports one page's objects; when it returns nil they are durably stored.
func (p *puller) store(ctx context.Context, objects []jsontext.Value) error {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, o := range objects {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(o)
	}
	buf.WriteByte(']')
	rep, err := p.im.Import(ctx, &buf, p.opt)
	p.total.Accepted += rep.Accepted
	p.total.Duplicate += rep.Duplicate
	p.total.Rejected += rep.Rejected
	for _, oe := range rep.Errors {
		if p.printed == maxRejectedLines {
			break
		}
		p.printed++
		p.clearProgress()
		fmt.Fprintf(p.e.stderr, "rejected: page %d, %v\n", p.pages+1, oe)
	}
	if err != nil {
		return fmt.Errorf("storing page %d: %w", p.pages+1, err)
	}
	return nil
}

func (p *puller) progress() {
	line := fmt.Sprintf("pulled %d objects, %d pages", p.objects, p.pages)
	switch {
	case p.terminal:
		fmt.Fprint(p.e.stderr, "\r\x1b[K"+line)
		p.drawn = true
	case p.pages%pullProgressEvery == 0:
		fmt.Fprintln(p.e.stderr, line)
	}
}

func (p *puller) clearProgress() {
	if p.drawn {
		fmt.Fprint(p.e.stderr, "\r\x1b[K")
		p.drawn = false
	}
}

// readCursorFile reads a cursor file; a missing file is a fresh start. The file must be for the same
// API root and collection.
func readCursorFile(name string, want cursorFile) (cursorFile, error) {
	data, err := readSmallFile(name, 1<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return want, nil
	}
	if err != nil {
		return want, fmt.Errorf("cursor file: %w", err)
	}
	var got cursorFile
	if err := json.Unmarshal(data, &got, json.RejectUnknownMembers(true)); err != nil {
		return want, withHint(fmt.Errorf("cursor file %s: %w", name, err), "the file is not a cursor written by 'renkei taxii pull'; move it away to start afresh")
	}
	if got.APIRoot != want.APIRoot || got.Collection != want.Collection {
		return want, withHint(fmt.Errorf("cursor file %s is for collection %s at %s, not %s at %s", name, got.Collection, got.APIRoot, want.Collection, want.APIRoot),
			"use one cursor file per remote collection")
	}
	return got, nil
}

// writeCursorFile replaces the cursor file atomically and durably: a temporary file in the same
// directory, synced, renamed over it, and the directory synced.
func writeCursorFile(name string, c cursorFile) error {
	data, err := json.Marshal(c, jsontext.WithIndent("  "))
	if err != nil {
		return fmt.Errorf("cursor file: %w", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(name)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return fmt.Errorf("cursor file: %w", err)
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), name)
	}
	if werr != nil {
		if rerr := os.Remove(tmp.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			werr = errors.Join(werr, rerr)
		}
		return fmt.Errorf("cursor file: %w", werr)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cursor file: %w", err)
	}
	serr := d.Sync()
	if cerr := d.Close(); serr == nil {
		serr = cerr
	}
	if serr != nil {
		return fmt.Errorf("cursor file: syncing %s: %w", dir, serr)
	}
	return nil
}
