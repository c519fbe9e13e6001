package correlate

import (
	"cmp"
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

// correlateValues answers every asked value in one bulk read of the observables index
// (store.Objects.LookupObservables): the values themselves and, for IP addresses and blocks, every
// containing block of a length the store holds (store.Objects.ObservableBlockLengths; every length
// when it cannot say), each block asked once however many values it contains. Objects for which
// skip returns true are not counted (the asking object itself, or the report's own objects).
func correlateValues(ctx context.Context, st store.Objects, asked []stix.Observable, skip func(id string) bool, o Options) ([]answer, error) {
	var families [2][]ipValue // IPv4, IPv6
	for i, ob := range asked {
		if ob.Kind != stix.ObsIPv4 && ob.Kind != stix.ObsIPv6 {
			continue
		}
		p, ok := ipPrefix(ob.Value)
		if !ok || p.Bits() == 0 {
			continue
		}
		v := ipValue{bits: p.Bits(), i: int32(i)}
		f := 0
		if a := p.Addr(); a.Is4() {
			b := a.As4()
			v.hi = uint64(binary.BigEndian.Uint32(b[:])) << 32
		} else {
			b := a.As16()
			v.hi, v.lo, f = binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), 1
		}
		families[f] = append(families[f], v)
	}
	lengths, err := blockLengths(ctx, st, len(families[0]) > 0 || len(families[1]) > 0)
	if err != nil {
		return nil, err
	}
	// The containing blocks of each IP value, each probed once: blocksOf[off[i]:off[i+1]] are the
	// indexes in probes of asked[i]'s blocks, longest first.
	off := make([]int32, len(asked)+1)
	for f := range families {
		for k := range families[f] {
			v := &families[f][k]
			// The lengths probed for v: those shorter than v, lengths[f][:v.n].
			n, _ := slices.BinarySearch(lengths[f], v.bits)
			v.n = int32(n)
			off[v.i+1] = v.n
		}
	}
	for i := range asked {
		off[i+1] += off[i]
	}
	blocksOf := make([]int32, off[len(asked)])
	// The blocks to probe, in the order they are made: their texts are written into one buffer,
	// and cut from one string made of it at the end.
	type block struct {
		kind     string
		from, to int
	}
	var (
		blocks []block
		text   []byte
	)
	for f, vals := range families {
		kind := stix.ObsIPv4
		if f == 1 {
			kind = stix.ObsIPv6
		}
		// Sorted by address, the values sharing a block of a given length are adjacent: each
		// block is made and probed once.
		slices.SortFunc(vals, func(a, b ipValue) int { return cmp.Or(cmp.Compare(a.hi, b.hi), cmp.Compare(a.lo, b.lo)) })
		for j, bits := range lengths[f] {
			var last [2]uint64
			have := false
			for _, v := range vals {
				if int32(j) >= v.n {
					continue
				}
				hi, lo := mask(v.hi, v.lo, bits)
				if !have || hi != last[0] || lo != last[1] {
					last, have = [2]uint64{hi, lo}, true
					from := len(text)
					text = blockOf(hi, lo, bits, f == 0).AppendTo(text)
					blocks = append(blocks, block{kind, from, len(text)})
				}
				// Longest first: the block of the j-th length is at v.n-1-j from the longest.
				blocksOf[off[v.i]+v.n-1-int32(j)] = int32(len(asked) + len(blocks) - 1)
			}
		}
	}
	// The probes: the asked values, then the blocks.
	probes := make([]stix.Observable, len(asked), len(asked)+len(blocks))
	copy(probes, asked)
	all := string(text)
	for _, b := range blocks {
		probes = append(probes, stix.Observable{Kind: b.kind, Value: all[b.from:b.to]})
	}
	found, err := st.LookupObservables(ctx, probes, o.Scope, MaxPerValue+1)
	if err != nil {
		return nil, err
	}
	// The values of the blocks found, made once each.
	var blockVals map[int32]Value
	for i := len(asked); i < len(probes); i++ {
		if len(found[i]) > 0 {
			if v := o.value(probes[i], found[i], skip); v.Count > 0 {
				v.Value = strings.Clone(v.Value) // not the probes' text, which it would keep alive
				if blockVals == nil {
					blockVals = map[int32]Value{}
				}
				blockVals[int32(i)] = v
			}
		}
	}
	out := make([]answer, len(asked))
	for i, ob := range asked {
		out[i].direct = o.value(ob, found[i], skip)
		for _, n := range blocksOf[off[i]:off[i+1]] {
			if len(found[n]) == 0 {
				continue
			}
			if v, ok := blockVals[n]; ok {
				v.Via = ob.Value
				out[i].blocks = append(out[i].blocks, v)
			}
		}
	}
	return out, nil
}

// ipValue is an asked IP address or block as 128 bits (an IPv4 address in the top 32), with its
// length in bits and its place among the asked values.
type ipValue struct {
	hi, lo uint64
	bits   int
	i      int32
	n      int32 // how many of the probed lengths are shorter
}

// blockLengths returns the lengths of the containing blocks worth probing, ascending, of IPv4
// ([0]) and IPv6 ([1]) blocks: those the store holds, or, when it cannot say, every length. It asks
// the store only when the values include an IP address or block (ip).
func blockLengths(ctx context.Context, st store.Objects, ip bool) ([2][]int, error) {
	var out [2][]int
	if !ip {
		return out, nil
	}
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
