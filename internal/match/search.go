package match

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
	"unsafe"
)

// Candidate is a value read from a log, to look up.
type Candidate struct {
	Kind  Kind
	Value []byte // may point into the reader's buffer: valid until the next event
}

// Searcher looks up many candidates at a time. Looking up one value costs a cache miss in a table
// of hundreds of MB; a Searcher first hashes a group of values and touches their slots, so that the
// processor fetches them in parallel, and only then probes. A Searcher is not safe for concurrent
// use: use one per goroutine.
type Searcher struct {
	// Unverified, when set, trusts the fingerprints of the exact table: a value whose fingerprint
	// matches is a hit without its key being compared, which saves a cache miss or two per hit.
	// A hit may then be wrong, with a probability below 2^-30 for each slot probed (a few in 10^9
	// lookups of a value not in the table); no hit is ever missed. Set it only when every hit
	// is checked against the values afterwards, as the patterns Matcher.Verify evaluates do.
	Unverified bool

	keys   []byte  // encoded keys, each preceded by seed and class
	probes []probe // exact-table probes, in candidate order
	found  []found // results of the current Search, in candidate order
	refs   []uint32
}

type probe struct {
	h          uint64 // the hash of the key; for KindIPv4, the address
	ci         int32  // candidate number; -1 for none
	start, end int32  // keys[start:end] is seed | class | key
	slot       uint32 // the home slot (stage1), then the first whose fingerprint matches (stage2)
	// ev is, for KindIPv4, the address table's value (set by stage3 when hit is set); cv is the
	// CIDR table's value (0: no block).
	ev, cv uint32
	kind   Kind // KindIPv4/KindIPv6/KindCIDR also probe the CIDR table
	// hit: for KindIPv4, the address is in the address table; for the exact table, slot's
	// fingerprint matches (stage2).
	hit bool
}

type found struct {
	ci  int32
	ref uint32
}

// searchBatch is how many candidates a Snapshot looks up at a time.
const searchBatch = 1024

// group is how many probes are touched before they are probed.
const group = 16

// Search looks up cands in ix and calls fn, in candidate order, once for each candidate that
// matches, with the refs it matched (shared, valid during the call).
func (s *Searcher) Search(ix *Index, cands []Candidate, fn func(ci int, refs []uint32)) {
	s.found = s.found[:0]
	s.search(ix, cands)
	for i := 0; i < len(s.found); {
		j := i
		refs := s.refs[:0]
		for j < len(s.found) && s.found[j].ci == s.found[i].ci {
			refs = append(refs, s.found[j].ref)
			j++
		}
		s.refs = refs
		fn(int(s.found[i].ci), refs)
		i = j
	}
}

// search appends the matches of cands in ix to s.found. The probes go through four stages, in
// groups, software-pipelined: while group g has its first slots prefetched, group g-1 has those
// slots read (and, to check the key of a slot whose fingerprint matches, the key's offset
// prefetched), group g-2 has the address tables probed, the record of a CIDR block it falls in
// prefetched and the key prefetched, and group g-3 has its keys checked and its refs appended.
// So each cache miss has a group's worth of work or more to hide behind. (Encoding a group's
// candidates between the stages, so that the misses overlap that work, measured slower.)
func (s *Searcher) search(ix *Index, cands []Candidate) {
	s.keys = s.keys[:0]
	s.probes = s.probes[:0]
	for ci := range cands {
		if ci+8 < len(cands) && len(cands[ci+8].Value) > 0 {
			prefetch(unsafe.Pointer(&cands[ci+8].Value[0]))
		}
		s.encode(ix, int32(ci), cands[ci])
	}
	ng := (len(s.probes) + group - 1) / group
	for g := 0; g < ng+3; g++ {
		if g < ng {
			s.stage1(ix, s.groupAt(g))
		}
		if g >= 1 && g-1 < ng {
			s.stage2(ix, s.groupAt(g-1))
		}
		if g >= 2 && g-2 < ng {
			s.stage3(ix, s.groupAt(g-2))
		}
		if g >= 3 {
			s.stage4(ix, s.groupAt(g-3))
		}
	}
}

func (s *Searcher) groupAt(g int) []probe {
	return s.probes[g*group : min((g+1)*group, len(s.probes))]
}

// stage1 prefetches the first slot of each probe (and the CIDR directory entry of an address).
func (s *Searcher) stage1(ix *Index, ps []probe) {
	t, v4, c4 := &ix.exact, &ix.v4, &ix.cidr.v4
	n := uint64(len(t.slots))
	for i := range ps {
		p := &ps[i]
		switch p.kind {
		case KindIPv4:
			a := uint32(p.h)
			prefetch(unsafe.Pointer(&c4.dir[a>>c4.shift]))
			if len(v4.slots) > 0 {
				prefetch(unsafe.Pointer(&v4.slots[v4.home(a)]))
			}
		case KindCIDR:
		default:
			if p.kind == KindIPv6 && ix.cidr.count > 0 {
				c6 := &ix.cidr.v6
				prefetch(unsafe.Pointer(&c6.dir[c6.dirIndex(binary.BigEndian.Uint64(s.keys[p.start+hdrLen:]))]))
			}
			if n > 0 {
				idx, _ := bits.Mul64(p.h, n)
				p.slot = uint32(idx)
				prefetch(unsafe.Pointer(&t.slots[idx]))
			}
		}
	}
}

// stage2 reads the slots stage1 fetched and prefetches what they point to.
func (s *Searcher) stage2(ix *Index, ps []probe) {
	t, c4 := &ix.exact, &ix.cidr.v4
	n := uint64(len(t.slots))
	for i := range ps {
		p := &ps[i]
		switch p.kind {
		case KindIPv4:
			a := uint32(p.h)
			prefetch(unsafe.Pointer(&c4.iv[c4.dir[a>>c4.shift]]))
		case KindCIDR:
		default:
			if p.kind == KindIPv6 && ix.cidr.count > 0 {
				c6 := &ix.cidr.v6
				at := c6.dir[c6.dirIndex(binary.BigEndian.Uint64(s.keys[p.start+hdrLen:]))]
				prefetch(unsafe.Pointer(&c6.hi[at]))
				prefetch(unsafe.Pointer(&c6.lo[at]))
				prefetch(unsafe.Pointer(&c6.vals[at]))
			}
			if n > 0 {
				// Go along the probe sequence to the first slot whose fingerprint matches (or the
				// empty slot that ends it) and leave the later stages to start there: the slots
				// before it cannot hold the key. To check the key, prefetch its offset.
				i := uint64(p.slot)
				fp := fingerprint(p.h)
				p.hit = false
				for range n { // bounded: a table read from a damaged file may have no empty slot
					sl := t.slots[i]
					if sl == 0 {
						break
					}
					if sl&fpMask == fp {
						p.hit = true
						if !s.Unverified {
							prefetch(unsafe.Pointer(&t.keys[i]))
						}
						break
					}
					if i++; i == n {
						i = 0
					}
				}
				p.slot = uint32(i)
			}
		}
	}
}

// stage3 probes the address tables, prefetches the record of the CIDR block an address falls in,
// and the key of a slot whose fingerprint matches.
func (s *Searcher) stage3(ix *Index, ps []probe) {
	t, v4, c4 := &ix.exact, &ix.v4, &ix.cidr.v4
	for i := range ps {
		p := &ps[i]
		p.cv = 0
		switch p.kind {
		case KindIPv4:
			a := uint32(p.h)
			p.cv = c4.lookup(a)
			p.ev, p.hit = v4.find(a)
		case KindIPv6:
			p.cv = ix.cidr.lookupAddr(s.keys[p.start+hdrLen : p.end])
		case KindCIDR:
			var pf netip.Prefix
			if pf.UnmarshalBinary(s.keys[p.start+hdrLen:p.end]) == nil {
				p.cv = ix.cidr.lookupPrefix(pf)
			}
		}
		if p.cv != 0 {
			prefetch(unsafe.Pointer(&ix.cidr.refs[p.cv-1]))
		}
		if p.hit && !s.Unverified && p.kind != KindIPv4 && p.kind != KindCIDR && uint64(p.slot) < uint64(len(t.keys)) {
			if off := t.keys[p.slot]; uint64(off) < uint64(len(t.arena)) {
				prefetch(unsafe.Pointer(&t.arena[off]))
			}
		}
	}
}

// stage4 appends the refs found, in probe order: it checks the key of an exact-table hit unless
// the Searcher is Unverified.
func (s *Searcher) stage4(ix *Index, ps []probe) {
	t := &ix.exact
	for i := range ps {
		p := &ps[i]
		if p.cv != 0 {
			s.appendCIDR(&ix.cidr, p.ci, p.cv)
		}
		if !p.hit {
			continue
		}
		switch p.kind {
		case KindIPv4:
			s.appendValue(ix.v4.multi, p.ci, p.ev)
		case KindCIDR:
		default:
			if s.Unverified {
				s.refs = t.appendCandidates(s.refs[:0], p.h, uint64(p.slot))
				for _, r := range s.refs {
					s.found = append(s.found, found{p.ci, r})
				}
			} else if v, ok := t.findAt(s.keys[p.start:p.end], p.h, uint64(p.slot)); ok {
				s.appendValue(t.multi, p.ci, v)
			}
		}
	}
}

// appendValue appends the refs of a table value: a ref, or multiFlag | an index into multi.
func (s *Searcher) appendValue(multi []uint32, ci int32, ref uint32) {
	if ref&multiFlag == 0 {
		s.found = append(s.found, found{ci, ref})
		return
	}
	s.refs = appendMulti(s.refs[:0], multi, ref)
	for _, r := range s.refs {
		s.found = append(s.found, found{ci, r})
	}
}

func (s *Searcher) appendCIDR(c *cidrTable, ci int32, v uint32) {
	at := v - 1
	for _, r := range c.refs[at+3 : at+3+c.refs[at]] {
		s.found = append(s.found, found{ci, r})
	}
}

var zeroHdr [hdrLen]byte

// encode appends the probes of one candidate.
func (s *Searcher) encode(ix *Index, ci int32, c Candidate) {
	if c.Kind == KindIP || c.Kind == KindIPv4 {
		if a, ok := parseIPv4(c.Value); ok {
			s.probes = append(s.probes, probe{ci: ci, kind: KindIPv4, h: uint64(binary.BigEndian.Uint32(a[:]))})
			return
		}
	}
	t := &ix.exact
	if c.Kind == KindDomain {
		s.encodeDomainCand(ix, ci, c.Value)
		return
	}
	start := len(s.keys)
	s.keys = append(s.keys, zeroHdr[:]...)
	k, keys, err := encodeKey(s.keys, c.Kind, c.Value)
	if err != nil {
		s.keys = s.keys[:start]
		return
	}
	s.keys = keys
	switch k {
	case KindIPv4:
		s.probes = append(s.probes, probe{ci: ci, kind: KindIPv4, h: uint64(binary.BigEndian.Uint32(s.keys[start+hdrLen:]))})
		s.keys = s.keys[:start]
		return
	case KindCIDR:
		if ix.cidr.count > 0 {
			s.probes = append(s.probes, probe{ci: ci, start: int32(start), end: int32(len(s.keys)), kind: k})
		}
		return
	}
	if t.count == 0 { // only the CIDR table can match
		if k == KindIPv6 && ix.cidr.count > 0 {
			s.probes = append(s.probes, probe{ci: ci, start: int32(start), end: int32(len(s.keys)), kind: k})
		}
		return
	}
	hk := s.keys[start:]
	copy(hk, t.seed[:])
	hk[8] = classOf(k)
	s.probes = append(s.probes, probe{ci: ci, start: int32(start), end: int32(len(s.keys)), kind: k, h: hashKey(hk)})
}

// encodeDomainCand is encodeKey for a domain followed by encodeDomain, in one pass over the name:
// it normalises the name as encodeDomain (kind.go) does, notes where its labels start, and appends
// one probe for each suffix with a number of labels some domain indicator has.
func (s *Searcher) encodeDomainCand(ix *Index, ci int32, v []byte) {
	t := &ix.exact
	if t.count == 0 || ix.labels == [2]uint64{} {
		return
	}
	if len(v) > 0 && !(v[0] > ' ' && v[0] < 0x80 && v[len(v)-1] > ' ' && v[len(v)-1] < 0x80) {
		v = bytes.TrimSpace(v)
	}
	if len(v) > MaxValueLen {
		return
	}
	if len(v) >= 2 && v[0] == '*' && v[1] == '.' {
		v = v[2:]
	}
	if len(v) > 0 && v[len(v)-1] == '.' {
		v = v[:len(v)-1]
	}
	if len(v) == 0 || len(v) > maxDomainLen {
		return
	}
	start := len(s.keys)
	s.keys = slices.Grow(s.keys, hdrLen+len(v))[:start+hdrLen+len(v)]
	name := s.keys[start+hdrLen:]
	// starts[i] is where label i starts in name; a valid name (at most 253 bytes) has at most 127
	// labels. Eight bytes at a time: the bytes are checked and lower-cased with word arithmetic, and
	// only the dots are visited one by one.
	var starts [256]uint8
	labels := 1
	var prevDot uint64 = 1 // the byte before the name counts as a dot: a name may not start with one
	i := 0
	for ; i+8 <= len(v); i += 8 {
		x := binary.LittleEndian.Uint64(v[i:])
		dots := eqBytes(x, '.')
		if !domainWord(x, dots) || dots&(dots<<8|prevDot<<7) != 0 {
			s.keys = s.keys[:start]
			return
		}
		prevDot = dots >> 63
		binary.LittleEndian.PutUint64(name[i:], lowerWord(x))
		for ; dots != 0; dots &= dots - 1 {
			starts[uint8(labels)] = uint8(i + bits.TrailingZeros64(dots)/8 + 1)
			labels++
		}
	}
	for ; i < len(v); i++ {
		c := v[i]
		var dot uint64
		if c == '.' {
			dot = 1
		}
		if !domainByte[c] || dot&prevDot != 0 {
			s.keys = s.keys[:start]
			return
		}
		if dot != 0 {
			starts[uint8(labels)] = uint8(i + 1)
			labels++
		}
		prevDot = dot
		name[i] = lower[c]
	}
	end := len(s.keys)
	for n := labels; n > 0; n-- {
		m := min(n, maxLabels)
		if ix.labels[m/64]&(1<<(m%64)) == 0 {
			continue
		}
		ks := start // the full name is already in place
		if n != labels {
			ks = len(s.keys)
			s.keys = append(s.keys, zeroHdr[:]...)
			s.keys = append(s.keys, s.keys[start+hdrLen+int(starts[labels-n]):end]...)
		}
		hk := s.keys[ks:]
		if n == labels {
			hk = s.keys[ks:end]
		}
		copy(hk, t.seed[:])
		hk[8] = classDomain
		s.probes = append(s.probes, probe{ci: ci, start: int32(ks), end: int32(ks + len(hk)), kind: KindDomain, h: hashKey(hk)})
	}
}
