package match

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
)

// cidrTable finds the blocks that contain an address or a block. The blocks of one family, nested
// or disjoint as prefixes are, cut the address space into elementary intervals, each held by the
// longest block covering it (or none). A lookup finds the interval of an address: a directory
// indexed by the address's top bits narrows it down to a few intervals, a binary search over those
// picks it. For IPv4 one interval is one uint64 (start in the top half, value in the bottom half),
// so that a lookup touches one directory entry and, most of the time, one cache line of intervals.
//
// A value is 0 (no block) or 1 + the offset in refs of the block's record:
//
//	count | prefix length | 1 + offset of the parent block's record (0: none) | count refs
//
// where the refs are those of the block and of every block that contains it.
type cidrTable struct {
	v4    lpm4
	v6    lpm6
	refs  []uint32
	count int // distinct blocks
}

type lpm4 struct {
	iv    []uint64 // start<<32 | value, ascending
	dir   []uint32 // dir[k]: the interval holding address k<<shift; dir[len-1] = len(iv)-1
	shift uint8
}

type lpm6 struct {
	hi, lo []uint64 // interval starts, ascending
	vals   []uint32
	dir    []uint32 // dir[k]: the interval holding (base + k<<shift, 0); dir[len-1] = len(hi)-1
	base   uint64
	shift  uint8
}

// lookup returns the value of the interval holding x.
func (t *lpm4) lookup(x uint32) uint32 {
	k := x >> t.shift
	lo, hi := t.dir[k], t.dir[k+1]
	for lo < hi {
		m := (lo + hi + 1) / 2
		if uint32(t.iv[m]>>32) <= x {
			lo = m
		} else {
			hi = m - 1
		}
	}
	return uint32(t.iv[lo])
}

func (t *lpm6) bucket(h uint64) (uint32, uint32) {
	if h < t.base {
		return 0, t.dir[0]
	}
	k := min((h-t.base)>>t.shift, uint64(len(t.dir)-2))
	return t.dir[k], t.dir[k+1]
}

// dirIndex returns the directory entry whose interval the search for top half h starts at (it
// ends at the next entry's): 0 below the base, as bucket reads it.
func (t *lpm6) dirIndex(h uint64) int {
	if h < t.base {
		return 0
	}
	return int(min((h-t.base)>>t.shift, uint64(len(t.dir)-2)))
}

// lookup returns the value of the interval holding the address h<<64 | l.
func (t *lpm6) lookup(h, l uint64) uint32 {
	lo, hi := t.bucket(h)
	for lo < hi {
		m := (lo + hi + 1) / 2
		if t.hi[m] < h || t.hi[m] == h && t.lo[m] <= l {
			lo = m
		} else {
			hi = m - 1
		}
	}
	return t.vals[lo]
}

// lookupAddr returns the value of the longest block containing the address key (4 or 16 bytes).
func (c *cidrTable) lookupAddr(key []byte) uint32 {
	switch len(key) {
	case 4:
		return c.v4.lookup(binary.BigEndian.Uint32(key))
	case 16:
		return c.v6.lookup(binary.BigEndian.Uint64(key), binary.BigEndian.Uint64(key[8:]))
	}
	return 0
}

// lookupPrefix returns the value of the longest block containing the block p.
func (c *cidrTable) lookupPrefix(p netip.Prefix) uint32 {
	var v uint32
	if p.Addr().Is4() {
		a := p.Addr().As4()
		v = c.lookupAddr(a[:])
	} else {
		a := p.Addr().As16()
		v = c.lookupAddr(a[:])
	}
	// The longest block holding the first address may be longer than p: its ancestors hold it too,
	// and the first one no longer than p holds all of p.
	for v != 0 && int(c.refs[v]) > p.Bits() {
		v = c.refs[v+1]
	}
	return v
}

// appendRefs appends the refs of value v (not 0).
func (c *cidrTable) appendRefs(dst []uint32, v uint32) []uint32 {
	at := v - 1
	return append(dst, c.refs[at+3:at+3+c.refs[at]]...)
}

// u128 is an address as a number: IPv4 in the low 32 bits.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func (a u128) add1() u128 {
	lo, c := bits.Add64(a.lo, 1, 0)
	return u128{a.hi + c, lo}
}

func addrNum(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{0, uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// lastAddr returns the last address of the block starting at s with the given length, in a
// family of width bits.
func lastAddr(s u128, bitsLen, width int) u128 {
	host := width - bitsLen // host bits, all set in the last address
	switch {
	case host == 0:
		return s
	case host < 64:
		return u128{s.hi, s.lo | (1<<host - 1)}
	case host == 64:
		return u128{s.hi, ^uint64(0)}
	default:
		return u128{s.hi | (1<<(host-64) - 1), ^uint64(0)}
	}
}

type interval struct {
	start u128
	val   uint32
}

// buildCIDR builds the table from blocks (masked, any order; repeats allowed).
func buildCIDR(cidrs []cidrEntry) cidrTable {
	slices.SortFunc(cidrs, func(a, b cidrEntry) int {
		return cmp.Or(a.p.Addr().Compare(b.p.Addr()), cmp.Compare(a.p.Bits(), b.p.Bits()), cmp.Compare(a.ref, b.ref))
	})
	var c cidrTable
	c.refs = append(c.refs, 0) // so that no record is at offset 0 and value = offset
	split := len(cidrs)
	for i, e := range cidrs {
		if !e.p.Addr().Is4() {
			split = i
			break
		}
	}
	iv4 := c.sweep(cidrs[:split], 32)
	iv6 := c.sweep(cidrs[split:], 128)
	c.v4 = newLPM4(iv4)
	c.v6 = newLPM6(iv6)
	return c
}

// sweep builds the records of one family's blocks, sorted by address then length, and returns
// the elementary intervals.
func (c *cidrTable) sweep(cidrs []cidrEntry, width int) []interval {
	ivs := []interval{{}}
	emit := func(x u128, v uint32) {
		last := &ivs[len(ivs)-1]
		switch {
		case last.start == x:
			last.val = v
		case last.val != v:
			ivs = append(ivs, interval{x, v})
		}
	}
	type open struct {
		end u128
		val uint32
	}
	var stack []open
	maxAddr := lastAddr(u128{}, 0, width)
	closeBefore := func(s u128, all bool) {
		for len(stack) > 0 && (all || stack[len(stack)-1].end.less(s)) {
			end := stack[len(stack)-1].end
			stack = stack[:len(stack)-1]
			if end == maxAddr {
				continue
			}
			v := uint32(0)
			if len(stack) > 0 {
				v = stack[len(stack)-1].val
			}
			emit(end.add1(), v)
		}
	}
	for i := 0; i < len(cidrs); {
		j := i + 1
		for j < len(cidrs) && cidrs[j].p == cidrs[i].p {
			j++
		}
		p := cidrs[i].p
		s := addrNum(p.Addr())
		closeBefore(s, false)
		parent := uint32(0)
		if len(stack) > 0 {
			parent = stack[len(stack)-1].val
		}
		at := uint32(len(c.refs))
		c.refs = append(c.refs, 0, uint32(p.Bits()), parent)
		for k := i; k < j; k++ {
			if k == i || cidrs[k].ref != cidrs[k-1].ref {
				c.refs = append(c.refs, cidrs[k].ref)
			}
		}
		if parent != 0 {
			pa := parent - 1
			c.refs = append(c.refs, c.refs[pa+3:pa+3+c.refs[pa]]...)
		}
		c.refs[at] = uint32(len(c.refs)) - at - 3
		v := at + 1
		emit(s, v)
		stack = append(stack, open{lastAddr(s, p.Bits(), width), v})
		c.count++
		i = j
	}
	closeBefore(u128{}, true)
	return ivs
}

// dirBits is the size of a directory for n intervals: about one interval per entry, between 2^8
// and 2^22 entries.
func dirBits(n int) uint8 { return uint8(min(22, max(8, bits.Len(uint(n))))) }

func newLPM4(ivs []interval) lpm4 {
	t := lpm4{iv: make([]uint64, len(ivs))}
	for i, v := range ivs {
		t.iv[i] = v.start.lo<<32 | uint64(v.val)
	}
	db := dirBits(len(ivs))
	t.shift = 32 - db
	nb := 1 << db
	t.dir = make([]uint32, nb+1)
	i := 0
	for k := range nb {
		x := uint64(k) << t.shift
		for i+1 < len(t.iv) && t.iv[i+1]>>32 <= x {
			i++
		}
		t.dir[k] = uint32(i)
	}
	t.dir[nb] = uint32(len(t.iv) - 1)
	return t
}

func newLPM6(ivs []interval) lpm6 {
	t := lpm6{hi: make([]uint64, len(ivs)), lo: make([]uint64, len(ivs)), vals: make([]uint32, len(ivs))}
	for i, v := range ivs {
		t.hi[i], t.lo[i], t.vals[i] = v.start.hi, v.start.lo, v.val
	}
	// The directory spans the top halves of the starts after the first (which is 0).
	db := dirBits(len(ivs))
	if len(ivs) > 1 {
		t.base = t.hi[1]
		span := t.hi[len(ivs)-1] - t.base
		for t.shift < 64 && span>>t.shift >= 1<<db {
			t.shift++
		}
	} else {
		t.shift = 64
	}
	nb := uint64(1) << db
	if t.shift == 64 {
		nb = 1
	} else {
		nb = min(nb, (t.hi[len(ivs)-1]-t.base)>>t.shift+1)
	}
	t.dir = make([]uint32, nb+1)
	i := 0
	for k := range nb {
		x := u128{t.base + k<<t.shift, 0}
		if t.shift == 64 {
			x.hi = t.base
		}
		for i+1 < len(ivs) && !x.less(ivs[i+1].start) {
			i++
		}
		t.dir[k] = uint32(i)
	}
	t.dir[nb] = uint32(len(ivs) - 1)
	return t
}
