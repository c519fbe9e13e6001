package match

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"unsafe"
)

// Index is an immutable compiled set of indicator values. Lookups are safe from any number of
// goroutines. Build one with a Builder; swap indexes under running lookups with Live.
//
// Matching rules:
//   - ipv4, ipv6, md5 … sha512, url, email, other: the normalised values are equal (see Normalize);
//   - an address also matches every CIDR block that contains it (all of them, not only the longest);
//   - a domain matches an indicator for itself or for any parent domain on a label boundary:
//     evil.example matches evil.example and a.b.evil.example, never notevil.example.
type Index struct {
	exact table
	v4    v4table // exact IPv4 addresses
	cidr  cidrTable
	// labels has bit n set when some domain indicator has n labels (n ≥ 127 counts as 127).
	labels  [2]uint64
	entries int // entries added, duplicates included
}

// Len returns the number of distinct values in the index (CIDR blocks included).
func (ix *Index) Len() int { return ix.exact.count + ix.v4.count + ix.cidr.count }

// Entries returns the number of entries the index was built from.
func (ix *Index) Entries() int { return ix.entries }

// TableBytes returns the size of the exact tables (slots, key offsets, arena and ref lists), without
// the CIDR table.
func (ix *Index) TableBytes() int {
	t := &ix.exact
	return len(t.slots)*8 + len(t.keys)*4 + cap(t.arena) + cap(t.multi)*4 + len(ix.v4.slots)*8 + cap(ix.v4.multi)*4
}

// Builder compiles entries into an Index. It is not safe for concurrent use.
type Builder struct {
	tb     *tableBuilder
	v4     []uint64 // address<<32 | ref
	cidrs  []cidrEntry
	labels [2]uint64
	n      int
	hk     []byte
}

type cidrEntry struct {
	p   netip.Prefix
	ref uint32
}

// NewBuilder returns a Builder; hint is the number of entries expected (0 if unknown).
func NewBuilder(hint int) *Builder {
	var seed [8]byte
	if _, err := rand.Read(seed[:]); err != nil {
		panic(fmt.Sprintf("match: crypto/rand failed: %v", err)) // documented never to fail
	}
	return newBuilderSeed(hint, seed)
}

// newBuilderSeed returns a Builder whose index hashes with seed: the same entries added in the
// same order give the same index, byte for byte.
func newBuilderSeed(hint int, seed [8]byte) *Builder {
	return &Builder{tb: newTableBuilder(seed, hint), hk: make([]byte, hdrLen, hdrLen+256)}
}

// Add adds one entry. It returns an error, naming the kind and value, when the value is not valid
// for its kind or the Ref is out of range; the entry is then left out.
func (b *Builder) Add(e Entry) error {
	if e.Ref > MaxRef {
		return fmt.Errorf("%s %q: ref %d is above the limit of %d", e.Kind, clip(e.Value), e.Ref, MaxRef)
	}
	k, hk, err := encodeKey(b.hk[:hdrLen], e.Kind, unsafe.Slice(unsafe.StringData(e.Value), len(e.Value)))
	b.hk = hk[:0]
	if err != nil {
		return fmt.Errorf("%s %q: %w", e.Kind, clip(e.Value), err)
	}
	if k == KindCIDR {
		var p netip.Prefix
		if err := p.UnmarshalBinary(hk[hdrLen:]); err != nil {
			return fmt.Errorf("%s %q: %w", e.Kind, clip(e.Value), err)
		}
		b.cidrs = append(b.cidrs, cidrEntry{p, e.Ref})
		b.n++
		return nil
	}
	if k == KindIPv4 {
		b.v4 = append(b.v4, uint64(binary.BigEndian.Uint32(hk[hdrLen:]))<<32|uint64(e.Ref))
		b.n++
		return nil
	}
	if k == KindDomain {
		n := min(bytes.Count(hk[hdrLen:], []byte{'.'})+1, maxLabels)
		b.labels[n/64] |= 1 << (n % 64)
	}
	copy(hk, b.tb.t.seed[:])
	hk[8] = classOf(k)
	if !b.tb.add(hk, e.Ref) {
		return fmt.Errorf("%s %q: the index is full (4 GiB of values)", e.Kind, clip(e.Value))
	}
	b.n++
	return nil
}

// Build returns the Index. The Builder must not be used afterwards.
func (b *Builder) Build() *Index {
	seed := binary.LittleEndian.Uint64(b.tb.t.seed[:])
	ix := &Index{labels: b.labels, entries: b.n}
	// The three tables are independent: the addresses and blocks are laid out while the exact
	// table is.
	var wg sync.WaitGroup
	wg.Go(func() {
		ix.v4 = buildV4(b.v4, seed)
		ix.cidr = buildCIDR(b.cidrs)
	})
	ix.exact = b.tb.build()
	wg.Wait()
	b.tb = nil
	b.cidrs, b.v4 = nil, nil
	return ix
}

// Lookup appends to dst the Refs of the indicators that value, read as kind, matches, and returns
// the extended slice. A value that is not valid for its kind matches nothing. A Ref may appear more
// than once when several of its values match.
func (ix *Index) Lookup(dst []uint32, kind Kind, value string) []uint32 {
	var buf [hdrLen + 256]byte
	return ix.lookup(dst, kind, unsafe.Slice(unsafe.StringData(value), len(value)), buf[:hdrLen])
}

// lookup is Lookup with a scratch buffer of length hdrLen.
func (ix *Index) lookup(dst []uint32, kind Kind, v []byte, buf []byte) []uint32 {
	k, hk, err := encodeKey(buf, kind, v)
	if err != nil {
		return dst
	}
	return ix.lookupKey(dst, k, hk)
}

// lookupKey looks up an encoded key, hk = (room for seed and class) | key.
func (ix *Index) lookupKey(dst []uint32, k Kind, hk []byte) []uint32 {
	t := &ix.exact
	switch k {
	case KindDomain:
		return ix.lookupDomain(dst, hk)
	case KindCIDR:
		var p netip.Prefix
		if p.UnmarshalBinary(hk[hdrLen:]) == nil {
			if v := ix.cidr.lookupPrefix(p); v != 0 {
				dst = ix.cidr.appendRefs(dst, v)
			}
		}
		return dst
	case KindIPv4:
		if v := ix.cidr.lookupAddr(hk[hdrLen:]); v != 0 {
			dst = ix.cidr.appendRefs(dst, v)
		}
		return ix.v4.appendRefs(dst, binary.BigEndian.Uint32(hk[hdrLen:]))
	case KindIPv6:
		if v := ix.cidr.lookupAddr(hk[hdrLen:]); v != 0 {
			dst = ix.cidr.appendRefs(dst, v)
		}
	}
	if t.count == 0 {
		return dst
	}
	copy(hk, t.seed[:])
	hk[8] = classOf(k)
	if v, ok := t.find(hk, hashKey(hk)); ok {
		dst = appendMulti(dst, t.multi, v)
	}
	return dst
}

// lookupDomain probes the name and each parent domain whose number of labels some domain
// indicator has. Before probing the suffix at p, it writes seed and class into the nine bytes in
// front of it (the labels already probed), so that each probe hashes one contiguous slice.
func (ix *Index) lookupDomain(dst []uint32, hk []byte) []uint32 {
	t := &ix.exact
	if t.count == 0 || ix.labels == [2]uint64{} {
		return dst
	}
	name := hk[hdrLen:]
	labels := bytes.Count(name, []byte{'.'}) + 1
	p := hdrLen
	for n := labels; n > 0; n-- {
		m := min(n, maxLabels)
		if ix.labels[m/64]&(1<<(m%64)) != 0 {
			w := hk[p-hdrLen:]
			copy(w, t.seed[:])
			w[8] = classDomain
			if v, ok := t.find(w, hashKey(w)); ok {
				dst = appendMulti(dst, t.multi, v)
			}
		}
		if n > 1 {
			p += bytes.IndexByte(hk[p:], '.') + 1
		}
	}
	return dst
}

// hasRef reports whether a value of line matches ref (by an exact lookup).
func (ix *Index) hasRef(line []Candidate, ref uint32) bool {
	var buf [hdrLen + 256]byte
	var refs [8]uint32
	for _, c := range line {
		if slices.Contains(ix.lookup(refs[:0], c.Kind, c.Value, buf[:hdrLen]), ref) {
			return true
		}
	}
	return false
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
