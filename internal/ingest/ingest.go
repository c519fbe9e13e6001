package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
	"github.com/renkei-cti/renkei/internal/store"
)

// Importer runs imports into one store.
type Importer struct {
	store  store.Objects
	logger *slog.Logger
	limits stix.Limits
}

// New returns an Importer writing to st.
func New(st store.Objects, logger *slog.Logger) *Importer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Importer{store: st, logger: logger, limits: stix.DefaultLimits}
}

// MaxStrictBytes bounds a strict import: it is written in one transaction, so it is held until the end.
const MaxStrictBytes = 256 << 20

// chunkSize is how many objects travel together between the pipeline's stages.
const chunkSize = 256

// item is one object on its way through the pipeline.
type item struct {
	rawObject
	obj    *stix.Object
	digest [32]byte
	err    error // why the object is rejected, if it is
}

// chunk is a run of consecutive items; fatal, when set, ends the input after the items.
type chunk struct {
	seq   int
	items []item
	fatal error
}

// Import reads r (a bundle, a bare object or a JSON array of objects, or several of them one after
// another) and writes what it holds. The input is decoded one object at a time: it is never held whole.
// Objects are validated in parallel and written in batched transactions, in input order. A bad object
// is reported and skipped unless opt.Strict is set. The error is nil unless the import could not go
// on (bad framing, a store failure, a strict abort, ctx cancelled); the Report then says what was
// already stored, and stays stored.
func (im *Importer) Import(ctx context.Context, r io.Reader, opt Options) (Report, error) {
	return im.run(ctx, opt, false, func(ctx context.Context, bytesRead *atomic.Int64, inflight chan<- struct{}, out chan<- chunk) {
		im.split(ctx, r, opt.MaxObjects, bytesRead, inflight, out)
	})
}

// produceFunc is stage 1 of an import: it sends the input's objects in chunks, and closes nothing.
type produceFunc func(ctx context.Context, bytesRead *atomic.Int64, inflight chan<- struct{}, out chan<- chunk)

// run is the pipeline behind Import and ImportDecoded. waitProducer makes it return only once
// produce has returned (Import does not wait: its splitter may be blocked in a Read).
func (im *Importer) run(ctx context.Context, opt Options, waitProducer bool, produce produceFunc) (Report, error) {
	batchSize := opt.BatchSize
	if batchSize <= 0 {
		batchSize = DefaultBatchSize
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var bytesRead atomic.Int64
	workers := max(1, runtime.GOMAXPROCS(0))
	// inflight bounds the chunks between the splitter and the in-order assembly, so that one slow
	// chunk cannot let the chunks after it pile up in memory.
	inflight := make(chan struct{}, 2*workers+4)
	raw := make(chan chunk, 4)
	decoded := make(chan chunk, 4)

	// Stages 1 and 2 are not waited for: the splitter may be blocked in r.Read (an idle stdin) and
	// Import must still return when ctx ends. Both stop at their next step once ctx is cancelled; r may
	// be read until its pending Read returns.
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		defer close(raw)
		produce(ctx, &bytesRead, inflight, raw)
	}()
	var wwg sync.WaitGroup
	for range workers {
		wwg.Go(func() {
			for c := range raw {
				for i := range c.items {
					im.decode(&c.items[i])
				}
				select {
				case decoded <- c:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() {
		wwg.Wait()
		close(decoded)
	}()

	// Stage 3 puts chunks back in input order and cuts them into batches; stage 4 writes each batch in
	// a transaction while stage 3 fills the next one. Stage 4 is waited for: it touches the store.
	w := newWriter(im, opt, &bytesRead)
	writeErr := make(chan error, 1)
	go func() { writeErr <- w.run(ctx, cancel) }()
	rep, err := w.assemble(ctx, decoded, inflight, batchSize)
	close(w.batches)
	if werr := <-writeErr; werr != nil {
		err = werr // the write failure is the cause; a cancelled assembly is its consequence
	}
	if waitProducer {
		cancel() // a producer still running stops at its next send
		<-produced
	}
	rep = w.final()
	if err != nil {
		return rep, err
	}
	im.logger.LogAttrs(ctx, slog.LevelInfo, "import done",
		slog.Int("accepted", rep.Accepted), slog.Int("duplicate", rep.Duplicate),
		slog.Int("rejected", rep.Rejected), slog.Int64("bytes", bytesRead.Load()))
	return rep, nil
}

// split reads objects from r and sends them in chunks; a framing error goes in the last chunk.
func (im *Importer) split(ctx context.Context, r io.Reader, maxObjects int, bytesRead *atomic.Int64, inflight chan<- struct{}, out chan<- chunk) {
	s := newSplitter(r, im.limits.MaxBytes)
	k := newChunker(ctx, bytesRead, func() int64 { return s.rec.n }, inflight, out)
	for {
		o, err := s.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && errors.Is(err, ErrInput) {
			k.c.fatal = err
			break
		}
		if maxObjects > 0 && o.index >= maxObjects {
			k.c.fatal = fmt.Errorf("%w: more than %d objects in one import", ErrInput, maxObjects)
			break
		}
		if !k.add(item{rawObject: o, err: err}) {
			return
		}
	}
	k.send()
}

// chunker groups items into chunks of chunkSize and sends each, in order, once a place in flight is
// free; before each send it records the bytes read so far.
type chunker struct {
	ctx       context.Context
	bytesRead *atomic.Int64
	progress  func() int64
	inflight  chan<- struct{}
	out       chan<- chunk
	c         chunk // the chunk being filled
}

func newChunker(ctx context.Context, bytesRead *atomic.Int64, progress func() int64, inflight chan<- struct{}, out chan<- chunk) *chunker {
	return &chunker{ctx: ctx, bytesRead: bytesRead, progress: progress, inflight: inflight, out: out,
		c: chunk{items: make([]item, 0, chunkSize)}}
}

// add appends an item and sends the chunk when it is full; false when ctx ended first.
func (k *chunker) add(it item) bool {
	k.c.items = append(k.c.items, it)
	return len(k.c.items) < chunkSize || k.send()
}

// send sends the chunk (with its fatal error, if any) and starts the next; false when ctx ended first.
func (k *chunker) send() bool {
	k.bytesRead.Store(k.progress())
	select {
	case k.inflight <- struct{}{}:
	case <-k.ctx.Done():
		return false
	}
	select {
	case k.out <- k.c:
		k.c = chunk{seq: k.c.seq + 1, items: make([]item, 0, chunkSize)}
		return true
	case <-k.ctx.Done():
		return false
	}
}

// decode validates one item (unless it came decoded, from ImportDecoded) and computes its digest.
func (im *Importer) decode(it *item) {
	if it.err != nil {
		return
	}
	obj := it.obj
	if obj == nil {
		var err error
		if obj, err = stix.DecodeWithLimits(it.raw, im.limits); err != nil {
			it.err = err
			return
		}
	}
	if obj.Type == "bundle" {
		it.err = fmt.Errorf("a bundle inside a bundle or array is not supported; import it on its own")
		return
	}
	// An indicator's pattern values are observables too, for correlation.
	pattern.AddObservables(obj)
	d, err := stix.Digest(it.raw)
	if err != nil {
		it.err = err
		return
	}
	it.obj, it.digest = obj, d
}

// writer turns decoded items into batches (assemble, on the caller's goroutine) and writes them (run,
// on its own), so that decoding goes on while a batch is written. At most two batches are held: the
// one being written and the one being filled.
type writer struct {
	im        *Importer
	opt       Options
	bytesRead *atomic.Int64
	batches   chan []item

	mu     sync.Mutex // guards report, which both goroutines update
	report Report
}

func newWriter(im *Importer, opt Options, bytesRead *atomic.Int64) *writer {
	return &writer{im: im, opt: opt, bytesRead: bytesRead, batches: make(chan []item)}
}

// assemble reads decoded chunks, puts them in input order, records rejections and sends batches to
// run. It returns when the input ends, on a framing error, on a strict abort or when ctx ends.
func (w *writer) assemble(ctx context.Context, decoded <-chan chunk, inflight <-chan struct{}, batchSize int) (Report, error) {
	var batch []item
	batchBytes := 0
	send := func() error {
		if len(batch) == 0 {
			return nil
		}
		select {
		case w.batches <- batch:
			batch, batchBytes = nil, 0
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	pending := map[int]chunk{}
	nextSeq := 0
	for {
		var c chunk
		var open bool
		select {
		case c, open = <-decoded:
		case <-ctx.Done():
			return Report{}, ctx.Err()
		}
		if !open {
			break
		}
		pending[c.seq] = c
		for {
			c, ok := pending[nextSeq]
			if !ok {
				break
			}
			delete(pending, nextSeq)
			nextSeq++
			<-inflight
			for i := range c.items {
				it := &c.items[i]
				if it.err != nil {
					oe := w.reject(it, it.err)
					if w.opt.Strict {
						return Report{}, fmt.Errorf("%w: %w", ErrStrict, oe)
					}
					continue
				}
				batch = append(batch, *it)
				batchBytes += len(it.raw)
				if w.opt.Strict {
					if batchBytes > MaxStrictBytes || len(batch) > store.MaxBatchVersions {
						return Report{}, fmt.Errorf("%w: a strict import is written in one transaction, and this one is larger than %d MiB or %d objects; split it, or import without --strict",
							ErrStrict, MaxStrictBytes>>20, store.MaxBatchVersions)
					}
				} else if len(batch) >= batchSize {
					if err := send(); err != nil {
						return Report{}, err
					}
				}
			}
			if c.fatal != nil {
				if w.opt.Strict {
					return Report{}, fmt.Errorf("%w: %w", ErrStrict, c.fatal)
				}
				if err := send(); err != nil {
					return Report{}, err
				}
				return Report{}, c.fatal
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}
	return Report{}, send()
}

// run writes the batches it receives until the channel is closed. On a store failure it cancels the
// import and returns the failure.
func (w *writer) run(ctx context.Context, cancel context.CancelFunc) error {
	for batch := range w.batches {
		if err := w.write(ctx, batch); err != nil {
			cancel()
			for range w.batches { // let assemble finish its send
			}
			return err
		}
	}
	return nil
}

func (w *writer) reject(it *item, err error) *ObjectError {
	oe := &ObjectError{Index: it.index, Offset: it.offset, Err: err}
	if it.obj != nil {
		oe.ObjectID = it.obj.ID
	} else if ve := (*stix.ValidationError)(nil); errors.As(err, &ve) {
		oe.ObjectID = ve.ObjectID
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.opt.Result != nil {
		r := ObjectResult{Index: it.index, ID: oe.ObjectID, Status: store.StatusRejected, Err: err}
		if it.obj != nil {
			r.Version = it.obj.Version().String()
		}
		w.opt.Result(r)
	}
	w.report.Rejected++
	// Rejections arrive out of order (the store's come a batch or two after the validator's). Keep
	// the ones with the lowest indexes: hold up to twice the cap, then cut back to it.
	w.report.Errors = append(w.report.Errors, oe)
	if len(w.report.Errors) >= 2*MaxReportedErrors {
		w.report.Errors = lowestIndexes(w.report.Errors)
	}
	return oe
}

// lowestIndexes sorts rejections by index and keeps the first MaxReportedErrors.
func lowestIndexes(es []*ObjectError) []*ObjectError {
	slices.SortStableFunc(es, func(a, b *ObjectError) int { return cmp.Compare(a.Index, b.Index) })
	if len(es) > MaxReportedErrors {
		clear(es[MaxReportedErrors:])
		es = es[:MaxReportedErrors]
	}
	return es
}

// final returns the report, with the rejections in input order.
func (w *writer) final() Report {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.report.Errors = lowestIndexes(w.report.Errors)
	return w.report
}

// write stores one batch in one transaction.
func (w *writer) write(ctx context.Context, batch []item) error {
	b := store.Batch{Collection: w.opt.Collection, Owner: w.opt.Owner, Strict: w.opt.Strict, Versions: make([]store.NewVersion, len(batch))}
	for i := range batch {
		b.Versions[i] = store.NewVersion{Object: batch[i].obj, Digest: batch[i].digest}
	}
	outcomes, err := w.im.store.Write(ctx, b)
	if err != nil {
		if w.opt.Strict {
			var first *ObjectError
			for i, o := range outcomes {
				if o.Status == store.StatusRejected {
					oe := w.reject(&batch[i], o.Err)
					if first == nil {
						first = oe
					}
				}
			}
			if first != nil {
				return fmt.Errorf("%w: %w", ErrStrict, first)
			}
		}
		return fmt.Errorf("writing %d objects: %w", len(batch), err)
	}
	for i, o := range outcomes {
		if o.Status == store.StatusRejected {
			w.reject(&batch[i], o.Err)
		}
	}
	w.mu.Lock()
	for i, o := range outcomes {
		switch o.Status {
		case store.StatusAdded:
			w.report.Accepted++
		case store.StatusDuplicate:
			w.report.Duplicate++
		default:
			continue
		}
		if w.opt.Result != nil {
			obj := batch[i].obj
			w.opt.Result(ObjectResult{Index: batch[i].index, ID: obj.ID, Version: obj.Version().String(),
				Status: o.Status, DateAdded: o.DateAdded})
		}
	}
	p := Progress{BytesRead: w.bytesRead.Load(), Report: w.report}
	w.mu.Unlock()
	if w.opt.Progress != nil {
		p.Errors = nil // the callback gets counts; the list is the final report's
		w.opt.Progress(p)
	}
	return nil
}
