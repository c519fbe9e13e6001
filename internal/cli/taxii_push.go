package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/renkei-cti/renkei/internal/taxiiclient"
)

// Push limits.
const (
	// defaultChunkBytes caps one envelope below the server's max_content_length, to bound memory.
	defaultChunkBytes = 16 << 20
	// maxChunkObjects caps the objects of one envelope.
	maxChunkObjects = 10000
)

func runTaxiiPush(ctx context.Context, e *env, args []string) error {
	f, conn := newTaxiiFlags(e, "push", "renkei taxii push URL --collection ID [--status-timeout D] FILE... [connection flags]",
		`Send the objects of STIX files (a bundle, a JSON array of objects or a single object per file)
to a collection, each object exactly as in the file. The objects go in envelopes no larger than the
API root's max_content_length; the status of each is polled until complete. Prints the counts of
successes and failures, and one line on stderr per failed object (the first `+fmt.Sprint(maxRejectedLines)+`).
Exit status 1 when any object failed or is still pending.`)
	collection := f.String("collection", "", "the remote collection's `id` (required)")
	statusTimeout := f.Duration("status-timeout", 5*time.Minute, "stop polling a pending status after this `duration`")
	pollInterval := f.Duration("poll-interval", time.Second, "wait this `duration` between status polls")
	chunkBytes := f.Int64("chunk-bytes", defaultChunkBytes, "send at most this many `bytes` per request (lowered to the server's max_content_length)")
	files, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(files) < 2 {
		return usageError("taxii", "taxii push takes a URL and at least one file")
	}
	raw, files := files[0], files[1:]
	if *collection == "" {
		return usageError("taxii", "taxii push needs --collection ID ('renkei taxii collections URL' lists them)")
	}
	if *chunkBytes <= 0 || *pollInterval <= 0 || *statusTimeout <= 0 {
		return usageError("taxii", "--chunk-bytes, --poll-interval and --status-timeout must be positive")
	}
	cl, path, err := conn.client(e, raw)
	if err != nil {
		return err
	}
	root, err := apiRoot(ctx, cl, path)
	if err != nil {
		return err
	}
	ar, err := cl.APIRoot(ctx, root)
	if err != nil {
		return taxiiError(err)
	}
	p := &pusher{
		e: e, cl: cl, root: root, collection: *collection,
		maxBytes: min(*chunkBytes, ar.MaxContentLength), timeout: *statusTimeout, interval: *pollInterval,
	}
	var runErr error
	for _, name := range files {
		if err := p.pushFile(ctx, name); err != nil {
			runErr = err
			break
		}
	}
	if more := p.failure - p.printed; more > 0 && p.printed > 0 {
		fmt.Fprintf(e.stderr, "failed: … and %d more\n", more)
	}
	fmt.Fprintf(e.stdout, "success %d, failure %d, pending %d (%d requests)\n", p.success, p.failure, p.pending, p.requests)
	switch {
	case runErr != nil:
		return runErr
	case p.failure > 0:
		return withHint(fmt.Errorf("%d objects failed", p.failure), "the lines starting with 'failed:' say which object and why")
	case p.pending > 0:
		return withHint(fmt.Errorf("%d objects are still pending", p.pending), "the server has not finished; raise --status-timeout, or check later")
	}
	return nil
}

type pusher struct {
	e          *env
	cl         *taxiiclient.Client
	root       string
	collection string
	maxBytes   int64
	timeout    time.Duration
	interval   time.Duration

	chunk     []jsontext.Value
	chunkSize int64

	success, failure, pending, requests int
	printed                             int
}

// pushFile streams one file's objects into envelopes.
func (p *pusher) pushFile(ctx context.Context, name string) error {
	err := readSTIXFile(name, p.maxBytes, func(o jsontext.Value) error {
		if n := taxiiclient.EnvelopeSize(1, int64(len(o))); n > p.maxBytes {
			p.failed(taxiiclient.StatusDetails{ID: objectID(o), Message: fmt.Sprintf("not sent: the object is %d bytes, more than the %d an envelope may hold here", len(o), p.maxBytes)})
			return nil
		}
		if len(p.chunk) == maxChunkObjects || taxiiclient.EnvelopeSize(len(p.chunk)+1, p.chunkSize+int64(len(o))) > p.maxBytes {
			if err := p.flush(ctx); err != nil {
				return err
			}
		}
		p.chunk = append(p.chunk, o.Clone())
		p.chunkSize += int64(len(o))
		return nil
	})
	if err == nil {
		err = p.flush(ctx)
	}
	if err != nil {
		return fmt.Errorf("push %s: %w", name, err)
	}
	return nil
}

// flush sends the pending envelope and waits for its status to be complete.
func (p *pusher) flush(ctx context.Context) error {
	if len(p.chunk) == 0 {
		return nil
	}
	objs := p.chunk
	p.chunk, p.chunkSize = nil, 0
	p.requests++
	st, err := p.cl.AddObjects(ctx, p.root, p.collection, objs)
	if err != nil {
		return taxiiError(err)
	}
	deadline := p.e.now().Add(p.timeout)
	for st.Status != taxiiclient.StatusComplete && p.e.now().Before(deadline) {
		t := time.NewTimer(p.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		if st, err = p.cl.Status(ctx, p.root, st.ID); err != nil {
			return taxiiError(err)
		}
	}
	p.success += st.SuccessCount
	p.pending += st.PendingCount
	for _, d := range st.Failures {
		p.failed(d)
	}
	// A server may count failures it does not list.
	p.failure += max(0, st.FailureCount-len(st.Failures))
	return nil
}

func (p *pusher) failed(d taxiiclient.StatusDetails) {
	p.failure++
	if p.printed == maxRejectedLines {
		return
	}
	p.printed++
	id := oneLine(d.ID)
	if id == "" {
		id = "(no id)"
	}
	if d.Version != "" {
		id += " version " + oneLine(d.Version)
	}
	msg := oneLine(d.Message)
	if msg == "" {
		msg = "(no message)"
	}
	fmt.Fprintf(p.e.stderr, "failed: %s: %s\n", id, msg)
}

// objectID reads an object's id, for messages; "" when it has none.
func objectID(o jsontext.Value) string {
	var head struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(o, &head, jsontext.AllowDuplicateNames(true)); err != nil {
		return ""
	}
	return head.ID
}

// readSTIXFile calls fn with each object of a bundle, a JSON array of objects or a single object, as
// the bytes in the file. A bundle or array is streamed; a single object may be at most maxObject bytes.
func readSTIXFile(name string, maxObject int64, fn func(jsontext.Value) error) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	opts := []jsontext.Options{jsontext.AllowDuplicateNames(true)}
	dec := jsontext.NewDecoder(f, opts...)
	switch dec.PeekKind() {
	case '[':
		if err := readObjects(dec, fn, "the array"); err != nil {
			return err
		}
		return expectEOF(dec)
	case '{':
	default:
		_, err := dec.ReadToken()
		if err == nil || err == io.EOF {
			err = errors.New("not a STIX bundle, object or array of objects")
		}
		return err
	}
	// An object: a bundle or a single object. A first pass finds its type.
	typ, err := topLevelType(dec)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dec = jsontext.NewDecoder(f, opts...)
	if typ != "bundle" {
		if fi, err := f.Stat(); err == nil && fi.Size() > maxObject {
			return fmt.Errorf("a single object of %d bytes: more than the %d an envelope may hold here", fi.Size(), maxObject)
		}
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		if err := fn(v); err != nil {
			return err
		}
		return expectEOF(dec)
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if tok.String() != "objects" {
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		if dec.PeekKind() != '[' {
			return errors.New("the bundle's objects is not an array")
		}
		if err := readObjects(dec, fn, "the bundle's objects"); err != nil {
			return err
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	return expectEOF(dec)
}

// topLevelType reads the type property of the object dec is at, skipping the other members.
func topLevelType(dec *jsontext.Decoder) (string, error) {
	if _, err := dec.ReadToken(); err != nil {
		return "", err
	}
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return "", err
		}
		if tok.String() == "type" && dec.PeekKind() == '"' {
			v, err := dec.ReadToken()
			if err != nil {
				return "", err
			}
			return v.String(), nil
		}
		if err := dec.SkipValue(); err != nil {
			return "", err
		}
	}
	return "", nil
}

// readObjects reads an array of objects.
func readObjects(dec *jsontext.Decoder, fn func(jsontext.Value) error, what string) error {
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	for i := 0; dec.PeekKind() != ']'; i++ {
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		if v.Kind() != '{' {
			return fmt.Errorf("%s: element %d (byte %d) is not a JSON object", what, i, dec.InputOffset()-int64(len(v)))
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return err
}

func expectEOF(dec *jsontext.Decoder) error {
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			return errors.New("data after the first JSON value")
		}
		return err
	}
	return nil
}
