package match

import (
	"bytes"
	"encoding/binary"
	"maps"
	"math/bits"
	"slices"
	"sort"
	"sync"
)

// table is the exact-value fingerprint table: open addressing with linear probing over one flat
// []uint64 of slots, 0 an empty slot. A slot is
//
//	fingerprint (30 bits) | 1 | more (1 bit) | value (32 bits)
//
// where the fingerprint is 30 bits of the key's 64-bit hash (the low ones: the slot is chosen from
// the high ones by multiply-shift, so the table need not be a power of two), the bit after it is
// always set (an occupied slot is never 0), and the value is the ref of the one indicator with
// that key or, with its top bit set (multiFlag), the index in multi of a count followed by that
// many refs. So a hit costs one cache miss: the slot gives the refs.
//
// more is set on a slot when a later slot of the same probe run holds another key with the same
// fingerprint: a lookup that trusts fingerprints (appendCandidates) goes on past a match only then.
//
// The keys themselves are in an arena, for the lookups that must be exact (find): keys[i] is the
// offset in the arena of the key of slot i, an entry of
//
//	class (1 byte) | key length (uvarint) | key
//
// where the key is the normalised value in binary where that is shorter (addresses, hashes). An
// exact lookup compares the key of every slot whose fingerprint matches, so fingerprint collisions
// cost a comparison and never a false hit.
//
// The hash is hashKey over seed | class | key, where seed is 8 random bytes drawn per index: values
// crafted to collide in one index do not collide in another.
type table struct {
	seed  [8]byte
	slots []uint64
	keys  []uint32 // arena offset of each slot's key; 0 for an empty slot
	arena []byte
	multi []uint32
	count int // distinct keys
}

const (
	multiFlag = 1 << 31
	hdrLen    = 9 // seed and class, in front of every key hashed
	// loadFactor is the share of slots used at most: 10/7 slots per key.
	loadNum, loadDen = 10, 7

	slotUsed = 1 << 33
	slotMore = 1 << 32
	// fpMask keeps a slot's fingerprint and its used bit: two slots hold keys of the same
	// fingerprint when they are equal under it.
	fpMask = 1<<64 - 1<<33
)

// fingerprint returns the bits of a slot for the key of hash h, before its value and more bit.
func fingerprint(h uint64) uint64 { return h<<34 | slotUsed }

// hashKey hashes hk, which is seed | class | key (9 bytes or more). It is a hash of the wyhash
// family (a 64×64→128-bit multiply folded to 64 bits mixes each 16 bytes): keys are short (a domain
// name, an encoded hash), and it takes a third of the time XXH64 took on them. The index file
// stores tables built with it: changing it changes fileVersion.
func hashKey(hk []byte) uint64 {
	seed := binary.LittleEndian.Uint64(hk) ^ wyp0
	p := hk[8:]
	n := len(p)
	var a, b uint64
	switch {
	case n <= 16:
		if n >= 4 {
			q := (n >> 3) << 2
			a = uint64(binary.LittleEndian.Uint32(p))<<32 | uint64(binary.LittleEndian.Uint32(p[q:]))
			b = uint64(binary.LittleEndian.Uint32(p[n-4:]))<<32 | uint64(binary.LittleEndian.Uint32(p[n-4-q:]))
		} else {
			a = uint64(p[0])<<16 | uint64(p[n>>1])<<8 | uint64(p[n-1])
		}
	default:
		i := n
		if i > 48 {
			s1, s2 := seed, seed
			for i > 48 {
				seed = wymix(binary.LittleEndian.Uint64(p)^wyp1, binary.LittleEndian.Uint64(p[8:])^seed)
				s1 = wymix(binary.LittleEndian.Uint64(p[16:])^wyp2, binary.LittleEndian.Uint64(p[24:])^s1)
				s2 = wymix(binary.LittleEndian.Uint64(p[32:])^wyp3, binary.LittleEndian.Uint64(p[40:])^s2)
				p, i = p[48:], i-48
			}
			seed ^= s1 ^ s2
		}
		for i > 16 {
			seed = wymix(binary.LittleEndian.Uint64(p)^wyp1, binary.LittleEndian.Uint64(p[8:])^seed)
			p, i = p[16:], i-16
		}
		// the last 16 bytes of the key, some of them hashed above already
		tail := hk[len(hk)-16:]
		a, b = binary.LittleEndian.Uint64(tail), binary.LittleEndian.Uint64(tail[8:])
	}
	return wymix(wyp1^uint64(n), wymix(a^wyp1, b^seed))
}

// The wyhash constants.
const (
	wyp0 = 0xa0761d6478bd642f
	wyp1 = 0xe7037ed1a0b428db
	wyp2 = 0x8ebc6af09c88c6e3
	wyp3 = 0x589965cc75374cc3
)

func wymix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// home returns the slot the probe for hash h starts at; len(t.slots) must not be 0.
func (t *table) home(h uint64) uint64 {
	i, _ := bits.Mul64(h, uint64(len(t.slots)))
	return i
}

// find returns the value of the slot whose key is hk[8:] (class | key), and whether there is one.
func (t *table) find(hk []byte, h uint64) (uint32, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	return t.findAt(hk, h, t.home(h))
}

// findAt is find starting at slot i, the home slot of h or a later slot of its probe run before
// which no slot holds hk. A table read from a file may be damaged (only its header is checked when
// it is loaded): lookups then give wrong answers, but they never index out of range or loop for ever.
func (t *table) findAt(hk []byte, h uint64, i uint64) (uint32, bool) {
	n := uint64(len(t.slots))
	fp := fingerprint(h)
	for range n {
		s := t.slots[i]
		if s == 0 {
			return 0, false
		}
		if s&fpMask == fp && t.equal(i, hk[8:]) {
			return uint32(s), true
		}
		if i++; i == n {
			i = 0
		}
	}
	return 0, false
}

// appendCandidates appends the values of the slots from slot i on whose fingerprint is that of h,
// where i is the first slot of h's probe run with that fingerprint (or the empty slot that ends the
// run): the values of the key hashed to h if the table has it, and, with a probability below 2^-30
// for each slot probed, of another key. It reads no key.
func (t *table) appendCandidates(dst []uint32, h uint64, i uint64) []uint32 {
	n := uint64(len(t.slots))
	fp := fingerprint(h)
	for range n {
		s := t.slots[i]
		if s == 0 {
			return dst
		}
		if s&fpMask == fp {
			dst = appendMulti(dst, t.multi, uint32(s))
			if s&slotMore == 0 {
				return dst
			}
		}
		if i++; i == n {
			i = 0
		}
	}
	return dst
}

// equal reports whether the key of slot i is ck, which is class | key.
func (t *table) equal(i uint64, ck []byte) bool {
	if i >= uint64(len(t.keys)) {
		return false
	}
	off := uint64(t.keys[i])
	if off+2 > uint64(len(t.arena)) {
		return false
	}
	e := t.arena[off:]
	if e[0] != ck[0] {
		return false
	}
	l, w := binary.Uvarint(e[1:])
	if l != uint64(len(ck)-1) || w <= 0 || len(ck)-1 > len(e)-1-w {
		return false
	}
	return bytes.Equal(e[1+w:1+w+int(l)], ck[1:])
}

// appendMulti appends the refs of a table value: a ref, or multiFlag | the index in multi of a
// count followed by that many refs.
func appendMulti(dst []uint32, multi []uint32, v uint32) []uint32 {
	if v&multiFlag == 0 {
		return append(dst, v)
	}
	i := uint64(v &^ multiFlag)
	if i >= uint64(len(multi)) {
		return dst
	}
	c := uint64(multi[i])
	if c > uint64(len(multi))-i-1 {
		return dst
	}
	return append(dst, multi[i+1:i+1+c]...)
}

// entryAt returns the class and key of the arena entry at off.
func (t *table) entryAt(off uint32) (byte, []byte) {
	e := t.arena[off:]
	l, w := binary.Uvarint(e[1:])
	return e[0], e[1+w : 1+w+int(l)]
}

// tableBuilder collects entries, then lays out the table.
type tableBuilder struct {
	t      table
	hashes []uint64
	offs   []uint32
	refs   []uint32
}

func newTableBuilder(seed [8]byte, hint int) *tableBuilder {
	b := &tableBuilder{t: table{seed: seed}}
	b.t.arena = make([]byte, 1, 1+hint*24) // offset 0 is never an entry
	b.hashes = make([]uint64, 0, hint)
	b.offs = make([]uint32, 0, hint)
	b.refs = make([]uint32, 0, hint)
	return b
}

// add appends the entry for hk (seed | class | key) with ref. The arena is bounded by 4 GiB.
func (b *tableBuilder) add(hk []byte, ref uint32) bool {
	return b.addHashed(hk, ref, hashKey(hk))
}

// addHashed is add with the hash of hk given (tests give colliding ones).
func (b *tableBuilder) addHashed(hk []byte, ref uint32, h uint64) bool {
	if len(b.t.arena)+len(hk)+4 > 1<<32-1 {
		return false
	}
	off := uint32(len(b.t.arena))
	b.t.arena = append(b.t.arena, hk[8])
	b.t.arena = binary.AppendUvarint(b.t.arena, uint64(len(hk)-hdrLen))
	b.t.arena = append(b.t.arena, hk[hdrLen:]...)
	b.hashes = append(b.hashes, h)
	b.offs = append(b.offs, off)
	b.refs = append(b.refs, ref)
	return true
}

// build lays the entries out in slots, merging entries with equal keys. The entries are inserted
// grouped by the region of the table they land in, so that the writes are close to sequential,
// and the two halves of the table are filled at the same time: an entry whose probe would run past
// the end of its half is left for a last pass, after both halves are done.
func (b *tableBuilder) build() table {
	t := b.t
	n := len(b.offs)
	nslots := uint64(max(8, n*loadNum/loadDen+1))
	t.slots = make([]uint64, nslots)
	t.keys = make([]uint32, nslots)
	order := bucketOrder(b.hashes, nslots)
	// order is sorted by region of home slots: split it at the region boundary nearest the middle
	// of the table. A small table is one region, filled by the first half alone.
	midSlot := nslots >> (bucketShift + 1) << bucketShift
	mid := len(order)
	if midSlot > 0 {
		mid = sort.Search(len(order), func(k int) bool {
			i, _ := bits.Mul64(b.hashes[order[k]], nslots)
			return i >= midSlot
		})
	}
	type part struct {
		extra    map[uint64][]uint32 // slot → the refs beyond the first of its key
		overflow []uint32
		count    int
	}
	parts := [2]part{{extra: map[uint64][]uint32{}}, {extra: map[uint64][]uint32{}}}
	var wg sync.WaitGroup
	for w, r := range [2][2]int{{0, mid}, {mid, len(order)}} {
		end := midSlot
		if w == 1 || midSlot == 0 {
			end = nslots
		}
		p := &parts[w]
		wg.Go(func() {
			for _, e := range order[r[0]:r[1]] {
				if !b.insert(&t, e, end, p.extra, &p.count) {
					p.overflow = append(p.overflow, e)
				}
			}
		})
	}
	wg.Wait()
	extra := parts[0].extra
	for r, refs := range parts[1].extra {
		extra[r] = refs
	}
	t.count = parts[0].count + parts[1].count
	for _, p := range parts {
		for _, e := range p.overflow {
			b.insert(&t, e, 0, extra, &t.count)
		}
	}
	// In slot order, so that the same entries give the same table.
	for _, i := range slices.Sorted(maps.Keys(extra)) {
		refs := extra[i]
		m := uint32(len(t.multi))
		t.multi = append(t.multi, uint32(1+len(refs)), uint32(t.slots[i]))
		t.multi = append(t.multi, refs...)
		t.slots[i] = t.slots[i]>>32<<32 | uint64(m|multiFlag)
	}
	if cap(t.arena) > len(t.arena)+len(t.arena)/8 {
		t.arena = append([]byte(nil), t.arena...)
	}
	b.hashes, b.offs, b.refs = nil, nil, nil
	return t
}

// insert puts entry e in t, or adds its ref to the slot with the same key. With end > 0 the probe
// may not reach slot end: insert then returns false and leaves t as it was.
func (b *tableBuilder) insert(t *table, e uint32, end uint64, extra map[uint64][]uint32, count *int) bool {
	nslots := uint64(len(t.slots))
	h, off, ref := b.hashes[e], b.offs[e], b.refs[e]
	i := t.home(h)
	fp := fingerprint(h)
	// same holds the slots passed whose fingerprint is e's: if e gets a slot of its own, they must
	// tell a lookup trusting fingerprints to go on. Usually none.
	var same []uint64
	for {
		s := t.slots[i]
		if s == 0 {
			t.slots[i] = fp | uint64(ref)
			t.keys[i] = off
			for _, j := range same {
				t.slots[j] |= slotMore
			}
			*count++
			return true
		}
		if s&fpMask == fp {
			c0, k0 := t.entryAt(t.keys[i])
			c1, k1 := t.entryAt(off)
			if c0 == c1 && bytes.Equal(k0, k1) {
				if ref != uint32(s) && !containsRef(extra[i], ref) {
					extra[i] = append(extra[i], ref)
				}
				return true
			}
			same = append(same, i)
		}
		i++
		if end > 0 && i == end {
			return false
		}
		if i == nslots {
			i = 0
		}
	}
}

func containsRef(refs []uint32, r uint32) bool {
	for _, x := range refs {
		if x == r {
			return true
		}
	}
	return false
}

// bucketOrder returns the entry numbers grouped by the region of nslots their hash selects (a
// counting sort on the top bits of the slot number): inserting in this order touches the table
// nearly sequentially instead of at random.
// bucketShift makes the regions of bucketOrder 4096 slots (32 KiB).
const bucketShift = 12

func bucketOrder(hashes []uint64, nslots uint64) []uint32 {
	const shift = bucketShift
	nb := nslots>>shift + 1
	counts := make([]uint32, nb+1)
	for _, h := range hashes {
		i, _ := bits.Mul64(h, nslots)
		counts[i>>shift+1]++
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	order := make([]uint32, len(hashes))
	for e, h := range hashes {
		i, _ := bits.Mul64(h, nslots)
		b := i >> shift
		order[counts[b]] = uint32(e)
		counts[b]++
	}
	return order
}
