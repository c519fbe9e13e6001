package match

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Snapshot is an immutable view of the indicators: a base Index, a small delta Index of the entries
// added since the base was built, and the refs revoked since. Lookups on a Snapshot are safe from
// any number of goroutines.
type Snapshot struct {
	base    *Index
	delta   *Index              // nil when nothing was added
	revoked map[uint32]struct{} // nil when nothing was revoked
	seq     uint64
}

// Source gives the current Snapshot: an *Index (always the same) or a *Live (the latest).
type Source interface {
	Snapshot() *Snapshot
}

// Snapshot returns a Snapshot of the index alone.
func (ix *Index) Snapshot() *Snapshot { return &Snapshot{base: ix} }

// Seq is the number of the last update the snapshot includes (see Live.Apply).
func (s *Snapshot) Seq() uint64 { return s.seq }

// Lookup appends the refs value matches, as Index.Lookup does, without the revoked ones.
func (s *Snapshot) Lookup(dst []uint32, kind Kind, value string) []uint32 {
	n := len(dst)
	dst = s.base.Lookup(dst, kind, value)
	if s.delta != nil {
		dst = s.delta.Lookup(dst, kind, value)
	}
	if s.revoked == nil {
		return dst
	}
	return dst[:filterFrom(dst, n, s.revoked)]
}

// filterFrom removes revoked refs from dst[n:] in place and returns the new length.
func filterFrom(dst []uint32, n int, revoked map[uint32]struct{}) int {
	w := n
	for _, r := range dst[n:] {
		if _, gone := revoked[r]; !gone {
			dst[w] = r
			w++
		}
	}
	return w
}

// Search looks up cands with sr and calls fn, in candidate order, for each candidate that matches,
// with its refs (shared, valid during the call; revoked refs left out).
func (s *Snapshot) Search(sr *Searcher, cands []Candidate, fn func(ci int, refs []uint32)) {
	// In batches, so that the encoded keys and probes of one batch stay in the cache.
	for off := 0; off < len(cands); off += searchBatch {
		part := cands[off:min(off+searchBatch, len(cands))]
		sr.found = sr.found[:0]
		sr.search(s.base, part)
		if s.delta != nil {
			sr.search(s.delta, part)
			slices.SortStableFunc(sr.found, func(a, b found) int { return int(a.ci - b.ci) })
		}
		for i := 0; i < len(sr.found); {
			j := i
			refs := sr.refs[:0]
			for ; j < len(sr.found) && sr.found[j].ci == sr.found[i].ci; j++ {
				if s.revoked != nil {
					if _, gone := s.revoked[sr.found[j].ref]; gone {
						continue
					}
				}
				refs = append(refs, sr.found[j].ref)
			}
			sr.refs = refs
			if len(refs) > 0 {
				fn(off+int(sr.found[i].ci), refs)
			}
			i = j
		}
	}
}

// Live holds the current Snapshot and replaces it as indicators arrive or are revoked, without
// pausing lookups: readers load an atomic pointer, writers build a new immutable Snapshot and swap
// it in. Additions go to a delta index that is rebuilt on each Apply (its cost grows with the
// entries added since the base), so the owner should build a new base from time to time — when
// Pending passes about 1% of the base — and hand it to Replace.
//
// Refs must not be reused: once revoked, a ref stays revoked until a Replace whose base covers the
// revocation.
type Live struct {
	cur atomic.Pointer[Snapshot]

	mu      sync.Mutex // serialises writers
	seq     uint64
	updates []update // applied since the base, oldest first
}

type update struct {
	seq    uint64
	add    []Entry
	revoke []uint32
}

// NewLive returns a Live serving base.
func NewLive(base *Index) *Live {
	l := &Live{}
	l.cur.Store(&Snapshot{base: base})
	return l
}

// Snapshot returns the current snapshot.
func (l *Live) Snapshot() *Snapshot { return l.cur.Load() }

// Seq returns the number of the last update applied.
func (l *Live) Seq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq
}

// Pending returns the number of entries added since the base.
func (l *Live) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, u := range l.updates {
		n += len(u.add)
	}
	return n
}

// Apply adds entries and revokes refs, and returns the number of this update. Entries that are not
// valid are left out and reported in the error (the rest is applied).
func (l *Live) Apply(add []Entry, revoke []uint32) (uint64, error) {
	var errs []error
	valid := make([]Entry, 0, len(add))
	var buf []byte
	for _, e := range add {
		var err error
		if e.Ref > MaxRef {
			err = fmt.Errorf("ref %d is above the limit of %d", e.Ref, MaxRef)
		} else {
			_, buf, err = encodeKey(buf[:0], e.Kind, []byte(e.Value))
		}
		if err != nil {
			if len(errs) < 10 {
				errs = append(errs, fmt.Errorf("%s %q (ref %d): %w", e.Kind, clip(e.Value), e.Ref, err))
			}
			continue
		}
		valid = append(valid, e)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	l.updates = append(l.updates, update{seq: l.seq, add: valid, revoke: slices.Clone(revoke)})
	errs = append(errs, l.publish(l.cur.Load().base))
	return l.seq, errors.Join(errs...)
}

// Replace makes base the new base. base must hold every change up to and including update upTo
// (revoked indicators left out); the updates after upTo are applied again on top of it.
func (l *Live) Replace(base *Index, upTo uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if upTo > l.seq {
		return fmt.Errorf("replace up to update %d: only %d were applied", upTo, l.seq)
	}
	l.updates = slices.DeleteFunc(l.updates, func(u update) bool { return u.seq <= upTo })
	return l.publish(base)
}

// publish builds the delta and revoked set of l.updates over base and swaps the result in. The
// entries were checked by Apply.
func (l *Live) publish(base *Index) error {
	s := &Snapshot{base: base, seq: l.seq}
	var err error
	n := 0
	for _, u := range l.updates {
		n += len(u.add)
		for _, r := range u.revoke {
			if s.revoked == nil {
				s.revoked = map[uint32]struct{}{}
			}
			s.revoked[r] = struct{}{}
		}
	}
	if n > 0 {
		b := NewBuilder(n)
		for _, u := range l.updates {
			for _, e := range u.add {
				if e := b.Add(e); e != nil && err == nil {
					err = e // only a full arena: Apply kept only valid entries
				}
			}
		}
		s.delta = b.Build()
	}
	l.cur.Store(s)
	return err
}
