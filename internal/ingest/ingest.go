package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/renkei-cti/renkei/internal/stix"
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
	batchSize := opt.BatchSize
	if batchSize <= 0 {
		batchSize = DefaultBatchSize
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var bytesRead atomic.Int64
	raw := make(chan chunk, 4)
	decoded := make(chan chunk, 4)
	var wg sync.WaitGroup

	// Stage 1: split the input into objects.
	wg.Go(func() {
		defer close(raw)
		im.split(ctx, r, opt.MaxObjects, &bytesRead, raw)
	})
	// Stage 2: decode, validate and digest, on every core.
	workers := max(1, runtime.GOMAXPROCS(0))
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
	wg.Go(func() {
		wwg.Wait()
		close(decoded)
	})
	defer wg.Wait()
	defer cancel()

	// Stage 3: put chunks back in order and write them in batches.
	w := &writer{im: im, opt: opt, batchSize: batchSize, bytesRead: &bytesRead}
	pending := map[int]chunk{}
	nextSeq := 0
	for c := range decoded {
		pending[c.seq] = c
		for {
			c, ok := pending[nextSeq]
			if !ok {
				break
			}
			delete(pending, nextSeq)
			nextSeq++
			if err := w.add(ctx, c.items); err != nil {
				return w.report, err
			}
			if c.fatal != nil {
				if opt.Strict {
					return w.report, fmt.Errorf("%w: %w", ErrStrict, c.fatal)
				}
				if err := w.flush(ctx); err != nil {
					return w.report, err
				}
				return w.report, c.fatal
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return w.report, err
	}
	if err := w.flush(ctx); err != nil {
		return w.report, err
	}
	im.logger.LogAttrs(ctx, slog.LevelInfo, "import done",
		slog.Int("accepted", w.report.Accepted), slog.Int("duplicate", w.report.Duplicate),
		slog.Int("rejected", w.report.Rejected), slog.Int64("bytes", bytesRead.Load()))
	return w.report, nil
}

// split reads objects from r and sends them in chunks; a framing error goes in the last chunk.
func (im *Importer) split(ctx context.Context, r io.Reader, maxObjects int, bytesRead *atomic.Int64, out chan<- chunk) {
	s := newSplitter(r, im.limits.MaxBytes)
	seq := 0
	c := chunk{seq: seq, items: make([]item, 0, chunkSize)}
	send := func() bool {
		bytesRead.Store(s.rec.n)
		select {
		case out <- c:
			seq++
			c = chunk{seq: seq, items: make([]item, 0, chunkSize)}
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		o, err := s.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && errors.Is(err, ErrInput) {
			c.fatal = err
			break
		}
		if maxObjects > 0 && o.index >= maxObjects {
			c.fatal = fmt.Errorf("%w: more than %d objects in one import", ErrInput, maxObjects)
			break
		}
		c.items = append(c.items, item{rawObject: o, err: err})
		if len(c.items) == chunkSize && !send() {
			return
		}
	}
	send()
}

// decode validates one item and computes its digest.
func (im *Importer) decode(it *item) {
	if it.err != nil {
		return
	}
	obj, err := stix.DecodeWithLimits(it.raw, im.limits)
	if err != nil {
		it.err = err
		return
	}
	if obj.Type == "bundle" {
		it.err = fmt.Errorf("a bundle inside a bundle or array is not supported; import it on its own")
		return
	}
	d, err := stix.Digest(it.raw)
	if err != nil {
		it.err = err
		return
	}
	it.obj, it.digest = obj, d
}

// writer collects decoded items into batches and writes them.
type writer struct {
	im         *Importer
	opt        Options
	batchSize  int
	bytesRead  *atomic.Int64
	batch      []item
	batchBytes int
	report     Report
}

func (w *writer) add(ctx context.Context, items []item) error {
	for i := range items {
		it := &items[i]
		if it.err != nil {
			oe := w.reject(it, it.err)
			if w.opt.Strict {
				return fmt.Errorf("%w: %w", ErrStrict, oe)
			}
			continue
		}
		w.batch = append(w.batch, *it)
		w.batchBytes += len(it.raw)
		if w.opt.Strict && w.batchBytes > MaxStrictBytes {
			return fmt.Errorf("%w: a strict import holds every object until the end, and this one is larger than %d MiB; split it, or import without --strict", ErrStrict, MaxStrictBytes>>20)
		}
		if !w.opt.Strict && len(w.batch) >= w.batchSize {
			if err := w.flush(ctx); err != nil {
				return err
			}
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
	w.report.Rejected++
	if len(w.report.Errors) < MaxReportedErrors {
		w.report.Errors = append(w.report.Errors, oe)
	}
	return oe
}

// flush writes the collected batch in one transaction.
func (w *writer) flush(ctx context.Context) error {
	if len(w.batch) == 0 {
		return nil
	}
	b := store.Batch{Collection: w.opt.Collection, Strict: w.opt.Strict, Versions: make([]store.NewVersion, len(w.batch))}
	for i := range w.batch {
		b.Versions[i] = store.NewVersion{Object: w.batch[i].obj, Digest: w.batch[i].digest}
	}
	outcomes, err := w.im.store.Write(ctx, b)
	if err != nil {
		if w.opt.Strict {
			var first *ObjectError
			for i, o := range outcomes {
				if o.Status == store.StatusRejected {
					oe := w.reject(&w.batch[i], o.Err)
					if first == nil {
						first = oe
					}
				}
			}
			if first != nil {
				w.batch = w.batch[:0]
				return fmt.Errorf("%w: %w", ErrStrict, first)
			}
		}
		return fmt.Errorf("writing %d objects: %w", len(w.batch), err)
	}
	for i, o := range outcomes {
		switch o.Status {
		case store.StatusAdded:
			w.report.Accepted++
		case store.StatusDuplicate:
			w.report.Duplicate++
		default:
			w.reject(&w.batch[i], o.Err)
		}
	}
	w.batch, w.batchBytes = w.batch[:0], 0
	if w.opt.Progress != nil {
		w.opt.Progress(Progress{BytesRead: w.bytesRead.Load(), Report: w.report})
	}
	return nil
}
