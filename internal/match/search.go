package match

import (
	"bytes"
	"math/bits"
	"net/netip"
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
	keys   []byte  // encoded keys, each preceded by seed and class
	probes []probe // exact-table probes, in candidate order
	found  []found // results of the current Search, in candidate order
	sink   uint64  // keeps the touching loads alive
}

type probe struct {
	ci         int32 // candidate number; -1 for none
	start, end int32 // keys[start:end] is seed | class | key
	kind       Kind  // KindIPv4/KindIPv6/KindCIDR also probe the CIDR table
	h          uint64
}

type found struct {
	ci  int32
	ref uint32
}

// group is how many probes are touched before they are probed.
const group = 32

// Search looks up cands in ix and calls fn, in candidate order, once for each candidate that
// matches, with the refs it matched (shared, valid during the call).
func (s *Searcher) Search(ix *Index, cands []Candidate, fn func(ci int, refs []uint32)) {
	s.search(ix, cands)
	var refs []uint32
	for i := 0; i < len(s.found); {
		j := i
		refs = refs[:0]
		for j < len(s.found) && s.found[j].ci == s.found[i].ci {
			refs = append(refs, s.found[j].ref)
			j++
		}
		fn(int(s.found[i].ci), refs)
		i = j
	}
}

// search fills s.found.
func (s *Searcher) search(ix *Index, cands []Candidate) {
	s.found = s.found[:0]
	s.keys = s.keys[:0]
	s.probes = s.probes[:0]
	t := &ix.exact
	for ci := range cands {
		s.encode(ix, int32(ci), cands[ci])
	}
	n := uint64(len(t.slots))
	for g := 0; g < len(s.probes); g += group {
		ps := s.probes[g:min(g+group, len(s.probes))]
		if n > 0 {
			for i := range ps {
				idx, _ := bits.Mul64(ps[i].h, n)
				s.sink += t.slots[idx]
			}
		}
		for i := range ps {
			p := &ps[i]
			if p.kind == KindIPv4 || p.kind == KindIPv6 || p.kind == KindCIDR {
				s.cidr(ix, p)
			}
			if p.kind == KindCIDR || t.count == 0 {
				continue
			}
			if off := t.find(s.keys[p.start:p.end], p.h); off != 0 {
				s.appendFound(t, p.ci, off)
			}
		}
	}
}

func (s *Searcher) appendFound(t *table, ci int32, off uint32) {
	ref := readRef(t.arena, off)
	if ref&multiFlag == 0 {
		s.found = append(s.found, found{ci, ref})
		return
	}
	i := ref &^ multiFlag
	for _, r := range t.multi[i+1 : i+1+t.multi[i]] {
		s.found = append(s.found, found{ci, r})
	}
}

func readRef(a []byte, off uint32) uint32 {
	return uint32(a[off]) | uint32(a[off+1])<<8 | uint32(a[off+2])<<16 | uint32(a[off+3])<<24
}

func (s *Searcher) cidr(ix *Index, p *probe) {
	if ix.cidr == nil {
		return
	}
	key := s.keys[p.start+hdrLen : p.end]
	var v uint32
	var ok bool
	if p.kind == KindCIDR {
		var pf netip.Prefix
		if pf.UnmarshalBinary(key) != nil {
			return
		}
		v, ok = ix.cidr.LookupPrefix(pf)
	} else {
		a, _ := netip.AddrFromSlice(key)
		v, ok = ix.cidr.Lookup(a)
	}
	if ok {
		for _, r := range ix.cidrRefs[v+1 : v+1+ix.cidrRefs[v]] {
			s.found = append(s.found, found{p.ci, r})
		}
	}
}

var zeroHdr [hdrLen]byte

// encode appends the probes of one candidate.
func (s *Searcher) encode(ix *Index, ci int32, c Candidate) {
	t := &ix.exact
	start := len(s.keys)
	s.keys = append(s.keys, zeroHdr[:]...)
	k, keys, err := encodeKey(s.keys, c.Kind, c.Value)
	if err != nil {
		s.keys = s.keys[:start]
		return
	}
	s.keys = keys
	if k == KindDomain {
		s.encodeDomain(ix, ci, start)
		return
	}
	if k == KindCIDR {
		s.probes = append(s.probes, probe{ci: ci, start: int32(start), end: int32(len(s.keys)), kind: k})
		return
	}
	if t.count == 0 { // only the CIDR table can match
		if (k == KindIPv4 || k == KindIPv6) && ix.cidr != nil {
			s.probes = append(s.probes, probe{ci: ci, start: int32(start), end: int32(len(s.keys)), kind: k})
		}
		return
	}
	hk := s.keys[start:]
	copy(hk, t.seed[:])
	hk[8] = classOf(k)
	s.probes = append(s.probes, probe{ci: ci, start: int32(start), end: int32(len(s.keys)), kind: k, h: hashKey(hk)})
}

// encodeDomain turns the name at keys[start+hdrLen:] into one probe for each of its suffixes with
// a number of labels some domain indicator has.
func (s *Searcher) encodeDomain(ix *Index, ci int32, start int) {
	t := &ix.exact
	if t.count == 0 || ix.labels == [2]uint64{} {
		s.keys = s.keys[:start]
		return
	}
	end := len(s.keys)
	labels := bytes.Count(s.keys[start+hdrLen:end], []byte{'.'}) + 1
	p := start + hdrLen
	first := true
	for n := labels; n > 0; n-- {
		m := min(n, maxLabels)
		if ix.labels[m/64]&(1<<(m%64)) != 0 {
			ks := len(s.keys)
			if first {
				ks = start // the full name is already in place
			} else {
				s.keys = append(s.keys, zeroHdr[:]...)
				s.keys = append(s.keys, s.keys[p:end]...)
			}
			hk := s.keys[ks:]
			if first {
				hk = s.keys[ks:end]
			}
			copy(hk, t.seed[:])
			hk[8] = classDomain
			s.probes = append(s.probes, probe{ci: ci, start: int32(ks), end: int32(ks + len(hk)), kind: KindDomain, h: hashKey(hk)})
		}
		first = false
		if n > 1 {
			p += bytes.IndexByte(s.keys[p:end], '.') + 1
		}
	}
}
