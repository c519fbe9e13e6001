package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/renkei-cti/renkei/internal/ingest"
)

// maxRejectedLines bounds the "rejected: …" lines one import prints.
const maxRejectedLines = 20

func runImport(ctx context.Context, e *env, args []string) (err error) {
	f := newFlags(e, "import", "renkei import [--data DIR] [--collection C] [--strict] [--format stix|misp|misp-feed|misp-galaxy|text] FILE|- ...",
		`Import STIX 2.1 (or 2.0) content: a bundle, a single object or a JSON array of objects per file;
"-" reads stdin. Objects already stored with the same content count as duplicates.
Prints "accepted N, duplicate N, rejected N" and one line on stderr per rejected object (the first
`+fmt.Sprint(maxRejectedLines)+`). With --strict a file is imported all or nothing: its first bad object aborts it.
Exit status: 0 when every object was accepted or a duplicate, 1 when any was rejected or a file
could not be read.`)
	dir := f.dataDir()
	collection := f.String("collection", "", "also add the objects to this `collection` (alias or id)")
	strict := f.Bool("strict", false, "import each file all or nothing")
	format := f.String("format", "stix", "input `format`: stix, misp (MISP events), misp-feed (a MISP feed directory or https:// URL), misp-galaxy (a galaxy clusters file), text (indicators from a written report)")
	mf := addMISPFlags(f)
	tf := addTextFlags(f)
	files, err := f.parse(args)
	if err != nil {
		return err
	}
	if *format != "stix" && *format != "text" && !isMISPFormat(*format) {
		return usageError("import", "unknown --format %q: stix, misp, misp-feed, misp-galaxy or text", *format)
	}
	if len(files) == 0 {
		return usageError("import", "import needs at least one file, or - for stdin")
	}
	if n := countStdin(files); n > 1 {
		return usageError("import", "stdin (-) can be read only once, found it %d times", n)
	}
	st, err := openNode(ctx, *dir, e.logger)
	if err != nil {
		return err
	}
	defer closeStore(st, &err)
	opt := ingest.Options{Strict: *strict}
	if *collection != "" {
		c, err := findCollection(ctx, st, *collection)
		if err != nil {
			return err
		}
		opt.Collection = c.ID
	}
	im := ingest.New(st, e.logger)
	defer ingest.LimitHeap()()
	if isMISPFormat(*format) {
		return runImportMISP(ctx, e, st, im, opt, *format, files, mf)
	}
	if *format == "text" {
		return runImportText(ctx, e, st, im, opt, files, tf)
	}
	var total ingest.Report
	printed := 0
	reportRejected := func(name string, rep ingest.Report) {
		for _, oe := range rep.Errors {
			if printed == maxRejectedLines {
				break
			}
			printed++
			if len(files) > 1 {
				fmt.Fprintf(e.stderr, "rejected: %s: %v\n", name, oe)
			} else {
				fmt.Fprintf(e.stderr, "rejected: %v\n", oe)
			}
		}
	}
	var runErr error
	for _, name := range files {
		rep, err := importOne(ctx, e, im, name, opt)
		total.Accepted += rep.Accepted
		total.Duplicate += rep.Duplicate
		total.Rejected += rep.Rejected
		reportRejected(name, rep)
		// What was stored is recorded even when the import stopped part-way.
		detail := fmt.Sprintf("%s: accepted %d, duplicate %d, rejected %d", name, rep.Accepted, rep.Duplicate, rep.Rejected)
		if opt.Collection != "" {
			detail += ", collection " + opt.Collection
		}
		if aerr := audit(context.WithoutCancel(ctx), e, st, "import", name, detail); aerr != nil {
			runErr = errors.Join(err, aerr)
			break
		}
		if err != nil {
			runErr = err
			break
		}
	}
	if more := total.Rejected - printed; more > 0 && printed > 0 {
		fmt.Fprintf(e.stderr, "rejected: … and %d more\n", more)
	}
	return finishImport(e, total, runErr)
}

// finishImport prints the totals of an import and turns them into its result: the run's error, else
// a failure when any object was rejected.
func finishImport(e *env, total ingest.Report, runErr error) error {
	fmt.Fprintf(e.stdout, "accepted %d, duplicate %d, rejected %d\n", total.Accepted, total.Duplicate, total.Rejected)
	switch {
	case runErr != nil:
		return runErr
	case total.Rejected > 0:
		return withHint(fmt.Errorf("%d objects were rejected", total.Rejected),
			"the lines starting with 'rejected:' say which object and why; the other objects were kept")
	}
	return nil
}

func countStdin(files []string) int {
	n := 0
	for _, f := range files {
		if f == "-" {
			n++
		}
	}
	return n
}

// input is one file named on the command line, or stdin for "-".
type input struct {
	r     io.Reader
	label string // the name to show: the path, or "stdin"
	size  int64  // the size of a regular file, else -1
	close func()
}

// openInput opens one input of cmd; hint says what the command expects when the file cannot be opened.
func openInput(e *env, name, cmd, hint string) (input, error) {
	if name == "-" {
		return input{r: e.stdin, label: "stdin", size: -1, close: func() {}}, nil
	}
	fh, err := os.Open(name)
	if err != nil {
		return input{}, withHint(fmt.Errorf("%s: %w", cmd, err), hint)
	}
	size := int64(-1)
	if fi, err := fh.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return input{r: fh, label: name, size: size, close: func() { fh.Close() }}, nil
}

// importOne imports one file (or stdin), showing progress when stderr is a terminal.
func importOne(ctx context.Context, e *env, im *ingest.Importer, name string, opt ingest.Options) (ingest.Report, error) {
	in, err := openInput(e, name, "import", "give the path of a JSON file, or - to read stdin")
	if err != nil {
		return ingest.Report{}, err
	}
	defer in.close()
	r, label, size := in.r, in.label, in.size
	var bar *progressBar
	if isTerminal(e.stderr) {
		bar = &progressBar{w: e.stderr, label: label, total: size}
		opt.Progress = bar.update
	}
	rep, err := im.Import(ctx, r, opt)
	if bar != nil {
		bar.clear()
	}
	if err != nil {
		var hint string
		switch {
		case errors.Is(err, ingest.ErrStrict):
			hint = "with --strict nothing from this file was kept; fix the object and import the file again"
		case errors.Is(err, ingest.ErrInput):
			hint = "renkei imports a STIX bundle, a single STIX object or a JSON array of objects"
		}
		err = fmt.Errorf("import %s: %w", label, err)
		if hint != "" {
			err = withHint(err, hint)
		}
	}
	return rep, err
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressBar draws one line on a terminal, redrawn on every update.
type progressBar struct {
	w     io.Writer
	label string
	total int64 // bytes; -1 when unknown
	drawn bool
}

const barWidth = 30

func (b *progressBar) update(p ingest.Progress) {
	fmt.Fprint(b.w, "\r\x1b[K"+b.line(p))
	b.drawn = true
}

// line renders the progress line.
func (b *progressBar) line(p ingest.Progress) string {
	counts := fmt.Sprintf("accepted %d, duplicate %d, rejected %d", p.Accepted, p.Duplicate, p.Rejected)
	if b.total <= 0 {
		return fmt.Sprintf("%s: %s read, %s", b.label, humanBytes(p.BytesRead), counts)
	}
	frac := min(float64(p.BytesRead)/float64(b.total), 1)
	filled := int(frac * barWidth)
	return fmt.Sprintf("%s [%s%s] %3.0f%% %s/%s, %s", b.label,
		strings.Repeat("#", filled), strings.Repeat(" ", barWidth-filled), frac*100,
		humanBytes(p.BytesRead), humanBytes(b.total), counts)
}

func (b *progressBar) clear() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\x1b[K")
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
