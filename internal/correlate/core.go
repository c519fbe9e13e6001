package correlate

import (
	"context"
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// answer is what the store holds about one asked value: the value itself, and the stored CIDR
// blocks that contain it (an address, or a block: the blocks strictly larger), longest first.
type answer struct {
	direct Value
	blocks []Value
}

// correlateValues answers every asked value in one bulk read of the observables index (a round
// of lookups, see lookups). Objects for which skip returns true are not counted (the asking
// object itself, or the report's own objects).
func correlateValues(ctx context.Context, st store.Objects, asked []stix.Observable, skip func(id string) bool, o Options) ([]answer, error) {
	l := &lookups{st: st, o: o}
	if err := l.round(ctx, asked); err != nil {
		return nil, err
	}
	return l.answers(skip), nil
}

// lookups looks up values in rounds, each one bulk read of the observables index
// (store.Objects.LookupObservables; correlateValues makes one, and a caller could look up a
// report's first values while the rest is read, which did not pay on two cores, see
// docs/BENCHMARKS.md): the values themselves and, for IP addresses and blocks, the containing
// blocks that the store holds (store.Objects.ObservableBlocks, found in memory), each block asked
// once however many values it contains. When the store cannot list its blocks, or holds more of
// them than the first round has blocks to ask, every containing block of a length the store holds
// is asked (store.Objects.ObservableBlockLengths; every length when it cannot say either). Either
// way the index decides what is found, and who may read it: answers applies the viewer's policy.
type lookups struct {
	st store.Objects
	o  Options

	ready   bool          // lengths and stored are set (at the first round with an IP value)
	lengths [2][]int      // the lengths of the containing blocks worth asking, ascending
	stored  *storedBlocks // nil: every block of those lengths is asked

	asked []stix.Observable
	found [][]store.Version // of each asked value
	// blocksOf[off[i]:off[i+1]] are the indexes in blocks of asked[i]'s containing blocks that
	// were asked, longest first.
	off, blocksOf []int32
	blocks        []askedBlock
	blockIndex    map[blockKey]int32
}

// askedBlock is a containing block asked of the index, and what it found.
type askedBlock struct {
	ob    stix.Observable
	found []store.Version
}

// blockKey is a block: family (0 IPv4, 1 IPv6), length and network (an IPv4 network in the top 32
// bits of hi).
type blockKey struct {
	f, bits int8
	hi, lo  uint64
}

// round looks up vals, and the containing blocks of its IP values not asked before.
func (l *lookups) round(ctx context.Context, vals []stix.Observable) error {
	if len(l.off) == 0 {
		l.off = append(l.off, 0)
	}
	ips := make([]ipValue, 0, len(vals))
	probes := 0
	for i, ob := range vals {
		if ob.Kind != stix.ObsIPv4 && ob.Kind != stix.ObsIPv6 {
			continue
		}
		p, ok := ipPrefix(ob.Value)
		if !ok || p.Bits() == 0 {
			continue
		}
		v := ipValue{bits: p.Bits(), i: int32(i)}
		if a := p.Addr(); a.Is4() {
			b := a.As4()
			v.hi = uint64(binary.BigEndian.Uint32(b[:])) << 32
		} else {
			b := a.As16()
			v.hi, v.lo, v.f = binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), 1
		}
		ips = append(ips, v)
	}
	if len(ips) > 0 && !l.ready {
		var err error
		if l.lengths, err = blockLengths(ctx, l.st); err != nil {
			return err
		}
		// The stored blocks, when the store lists no more of them than this round has blocks to
		// ask (reading a row of that small table costs less than asking the index a block).
		for _, v := range ips {
			n, _ := slices.BinarySearch(l.lengths[v.f], v.bits)
			probes += n
		}
		if l.stored, err = storedBlocksOf(ctx, l.st, probes); err != nil {
			return err
		}
		l.ready = true
	}
	// The probes: the values, then the blocks not asked before.
	probe := slices.Grow(slices.Clone(vals), len(vals)/2)
	newBlocks := len(l.blocks)
	next := 0
	for i := range vals {
		for ; next < len(ips) && ips[next].i == int32(i); next++ {
			l.containing(&ips[next])
		}
		l.off = append(l.off, int32(len(l.blocksOf)))
	}
	for _, b := range l.blocks[newBlocks:] {
		probe = append(probe, b.ob)
	}
	found, err := l.st.LookupObservables(ctx, probe, l.o.Scope, MaxPerValue+1)
	if err != nil {
		return err
	}
	l.asked = append(l.asked, vals...)
	l.found = append(l.found, found[:len(vals)]...)
	for k := range l.blocks[newBlocks:] {
		l.blocks[newBlocks+k].found = found[len(vals)+k]
	}
	return nil
}

// containing appends to blocksOf the containing blocks of v worth asking, longest first; those not
// asked before are added to blocks.
func (l *lookups) containing(v *ipValue) {
	ls := l.lengths[v.f]
	n, _ := slices.BinarySearch(ls, v.bits)
	for j := n - 1; j >= 0; j-- {
		bits := ls[j]
		hi, lo := mask(v.hi, v.lo, bits)
		if l.stored != nil {
			if _, ok := l.stored[v.f][bits][[2]uint64{hi, lo}]; !ok {
				continue // not stored: not asked
			}
		}
		k := blockKey{f: int8(v.f), bits: int8(bits), hi: hi, lo: lo}
		ix, ok := l.blockIndex[k]
		if !ok {
			if l.blockIndex == nil {
				l.blockIndex = map[blockKey]int32{}
			}
			kind := stix.ObsIPv4
			if v.f == 1 {
				kind = stix.ObsIPv6
			}
			ix = int32(len(l.blocks))
			l.blockIndex[k] = ix
			l.blocks = append(l.blocks, askedBlock{ob: stix.Observable{Kind: kind, Value: blockOf(hi, lo, bits, v.f == 0).String()}})
		}
		l.blocksOf = append(l.blocksOf, ix)
	}
}

// answers summarises what the rounds found, for the viewer: the forms skip does not exclude and
// Options.Allow allows.
func (l *lookups) answers(skip func(id string) bool) []answer {
	// The values of the blocks found, made once each.
	blockVals := map[int32]Value{}
	out := make([]answer, len(l.asked))
	for i, ob := range l.asked {
		out[i].direct = l.o.value(ob, l.found[i], skip)
		for _, n := range l.blocksOf[l.off[i]:l.off[i+1]] {
			b := &l.blocks[n]
			if len(b.found) == 0 {
				continue
			}
			v, ok := blockVals[n]
			if !ok {
				v = l.o.value(b.ob, b.found, skip)
				blockVals[n] = v
			}
			if v.Count > 0 {
				v.Via = ob.Value
				out[i].blocks = append(out[i].blocks, v)
			}
		}
	}
	return out
}

// ipValue is an asked IP address or block as 128 bits (an IPv4 address in the top 32), with its
// length in bits and its place among the asked values.
type ipValue struct {
	hi, lo uint64
	bits   int
	f      int   // 0 IPv4, 1 IPv6
	i      int32 // its index among the values of its round
}

// blockLengths returns the lengths of the containing blocks worth probing, ascending, of IPv4
// ([0]) and IPv6 ([1]) blocks: those the store holds, or, when it cannot say, every length.
func blockLengths(ctx context.Context, st store.Objects) ([2][]int, error) {
	var out [2][]int
	held, err := st.ObservableBlockLengths(ctx)
	if err != nil {
		return out, err
	}
	if !held.Known {
		for f, width := range [2]int{32, 128} {
			for bits := range width {
				out[f] = append(out[f], bits)
			}
		}
		return out, nil
	}
	// A block as long as the address itself contains nothing but it: never probed.
	for f, ls := range [2][]int{held.IPv4, held.IPv6} {
		width := [2]int{32, 128}[f]
		for _, bits := range ls {
			if bits >= 0 && bits < width {
				out[f] = append(out[f], bits)
			}
		}
		slices.Sort(out[f])
		out[f] = slices.Compact(out[f])
	}
	return out, nil
}

// storedBlocks is the stored CIDR blocks that a probe of the index can find, by family (0 IPv4,
// 1 IPv6) and length: the network's 128 bits (an IPv4 network in the top 32).
type storedBlocks [2][129]map[[2]uint64]struct{}

// storedBlocksOf returns the store's blocks when it lists at most limit of them; nil when it
// cannot, or when there is nothing to probe.
func storedBlocksOf(ctx context.Context, st store.Objects, limit int) (*storedBlocks, error) {
	if limit <= 0 {
		return nil, nil
	}
	bs, err := st.ObservableBlocks(ctx, limit)
	if err != nil || !bs.Known {
		return nil, err
	}
	out := &storedBlocks{}
	for _, b := range bs.Blocks {
		f := 0
		switch b.Kind {
		case stix.ObsIPv4:
		case stix.ObsIPv6:
			f = 1
		default:
			continue
		}
		// Only the text a probe would ask (blockOf): a canonical block of the kind's family,
		// shorter than an address. Another text is never found by a probe either.
		p, err := netip.ParsePrefix(b.Value)
		if err != nil || p != p.Masked() || p.Addr().Is4() != (f == 0) || p.Bits() >= p.Addr().BitLen() {
			continue
		}
		var hi, lo uint64
		if f == 0 {
			a := p.Addr().As4()
			hi = uint64(binary.BigEndian.Uint32(a[:])) << 32
		} else {
			a := p.Addr().As16()
			hi, lo = binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])
		}
		if blockOf(hi, lo, p.Bits(), f == 0).String() != b.Value {
			continue
		}
		m := out[f][p.Bits()]
		if m == nil {
			m = map[[2]uint64]struct{}{}
			out[f][p.Bits()] = m
		}
		m[[2]uint64{hi, lo}] = struct{}{}
	}
	return out, nil
}

// mask keeps the first bits of the 128-bit value hi, lo.
func mask(hi, lo uint64, bits int) (uint64, uint64) {
	switch {
	case bits == 0:
		return 0, 0
	case bits <= 64:
		return hi &^ (^uint64(0) >> bits), 0
	}
	return hi, lo &^ (^uint64(0) >> (bits - 64))
}

// blockOf returns the block of the given length at hi, lo.
func blockOf(hi, lo uint64, bits int, v4 bool) netip.Prefix {
	if v4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(hi>>32))
		return netip.PrefixFrom(netip.AddrFrom4(b), bits)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return netip.PrefixFrom(netip.AddrFrom16(b), bits)
}

// ipPrefix reads a normalised address (as a single-address prefix) or CIDR block.
func ipPrefix(s string) (netip.Prefix, bool) {
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		return p, err == nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// value summarises the forms that carry one value: those the viewer may read (Allow) and skip
// does not exclude, counted up to MaxPerValue, listed up to the options' PerValue.
func (o Options) value(ob stix.Observable, vs []store.Version, skip func(string) bool) Value {
	val := Value{Kind: ob.Kind, Value: ob.Value, Objects: []Object{}}
	list := o.perValue()
	var orgs []string
	for i := range vs {
		v := &vs[i]
		if skip != nil && skip(v.ID) || o.Allow != nil && !o.Allow(v) {
			continue
		}
		if val.Count == MaxPerValue {
			val.More = true
			break
		}
		val.Count++
		if !slices.Contains(orgs, v.CreatedByRef) {
			orgs = append(orgs, v.CreatedByRef)
		}
		if val.FirstSeen.IsZero() || v.Stored.Before(val.FirstSeen) {
			val.FirstSeen = v.Stored
		}
		if v.Stored.After(val.LastSeen) {
			val.LastSeen = v.Stored
		}
		if len(val.Objects) < list {
			val.Objects = append(val.Objects, Object{ID: v.ID, Type: v.Type, CreatedByRef: v.CreatedByRef, Stored: v.Stored})
		}
	}
	val.Reporters = len(orgs)
	for _, org := range orgs {
		if org != "" {
			val.Orgs = append(val.Orgs, org)
		}
	}
	slices.Sort(val.Orgs)
	slices.SortFunc(val.Objects, func(a, b Object) int { return strings.Compare(a.ID, b.ID) })
	return val
}

func (o Options) perValue() int {
	if o.PerValue <= 0 || o.PerValue > MaxPerValue {
		return MaxPerValue
	}
	return o.PerValue
}
