package ingest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync/atomic"

	"github.com/renkei-cti/renkei/internal/stix"
)

// ImportDecoded writes objects that the caller has already decoded and validated with stix.Decode
// (obj.Raw holding the bytes it read), as Import writes the objects of a reader: digested in
// parallel, written in batched transactions in the order given, with the same Report and the same
// rules (opt.Strict, opt.MaxObjects, opt.Owner…). It spares a converter that checks every object it
// makes (package misp) a second decode of each.
//
// objs is ranged over on a goroutine of its own while earlier objects are digested and written. An
// error from it, or a nil object, ends the import like a framing error ends Import's: what was
// written stays, and the error (wrapping ErrInput) is returned. ImportDecoded returns only after
// objs has returned; when the import stops early, the yield objs is given returns false.
func (im *Importer) ImportDecoded(ctx context.Context, objs iter.Seq2[*stix.Object, error], opt Options) (Report, error) {
	return im.run(ctx, opt, true, func(ctx context.Context, bytesRead *atomic.Int64, inflight chan<- struct{}, out chan<- chunk) {
		im.feed(ctx, objs, opt.MaxObjects, bytesRead, inflight, out)
	})
}

// feed sends decoded objects in chunks; an error of objs goes in the last chunk.
func (im *Importer) feed(ctx context.Context, objs iter.Seq2[*stix.Object, error], maxObjects int, bytesRead *atomic.Int64, inflight chan<- struct{}, out chan<- chunk) {
	index := 0
	var offset int64
	k := newChunker(ctx, bytesRead, func() int64 { return offset }, inflight, out)
	for obj, err := range objs {
		if err == nil && obj == nil {
			err = errors.New("a nil object")
		}
		if err != nil {
			k.c.fatal = fmt.Errorf("%w: object %d: %w", ErrInput, index, err)
			break
		}
		if maxObjects > 0 && index >= maxObjects {
			k.c.fatal = fmt.Errorf("%w: more than %d objects in one import", ErrInput, maxObjects)
			break
		}
		it := item{rawObject: rawObject{index: index, offset: offset, raw: obj.Raw}, obj: obj}
		index++
		offset += int64(len(obj.Raw))
		if !k.add(it) {
			return
		}
	}
	k.send()
}
