package match

import (
	"math/bits"
	"slices"
)

// v4table holds the exact IPv4 addresses apart from the other values: open addressing with
// linear probing over one []uint64, each slot the address in the top half and 1 + its value in the
// bottom half (0 is an empty slot), so that a lookup costs one cache miss and no comparison of
// bytes. A value with the top bit set is an index into multi, which holds a count followed by
// that many refs, as in table.
type v4table struct {
	slots []uint64
	multi []uint32
	seed  uint64
	count int // distinct addresses
}

// mix64 is a 64-bit finaliser (MurmurHash3's fmix64): every input bit moves every output bit.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// home returns the first slot to probe for a.
func (t *v4table) home(a uint32) uint64 {
	i, _ := bits.Mul64(mix64(uint64(a)^t.seed), uint64(len(t.slots)))
	return i
}

// find returns the value stored for a, and whether there is one.
func (t *v4table) find(a uint32) (uint32, bool) {
	n := uint64(len(t.slots))
	if n == 0 {
		return 0, false
	}
	i := t.home(a)
	for range n { // bounded: a table read from a damaged file may have no empty slot
		s := t.slots[i]
		if s == 0 {
			return 0, false
		}
		if uint32(s>>32) == a {
			return uint32(s) - 1, true
		}
		if i++; i == n {
			i = 0
		}
	}
	return 0, false
}

// appendRefs appends the refs of a, if it is in the table.
func (t *v4table) appendRefs(dst []uint32, a uint32) []uint32 {
	v, ok := t.find(a)
	if !ok {
		return dst
	}
	return t.appendValue(dst, v)
}

func (t *v4table) appendValue(dst []uint32, v uint32) []uint32 {
	return appendMulti(dst, t.multi, v)
}

// buildV4 lays out the table from pairs address<<32 | ref, in any order, repeats allowed. It sorts
// pairs.
func buildV4(pairs []uint64, seed uint64) v4table {
	t := v4table{seed: seed}
	if len(pairs) == 0 {
		return t
	}
	slices.Sort(pairs)
	pairs = slices.Compact(pairs)
	distinct := 1
	for i := 1; i < len(pairs); i++ {
		if pairs[i]>>32 != pairs[i-1]>>32 {
			distinct++
		}
	}
	// At most half full: a miss, the common case in logs, stops after 1.5 slots on average.
	n := uint64(max(8, distinct*2+1))
	t.slots = make([]uint64, n)
	for i := 0; i < len(pairs); {
		j := i + 1
		for j < len(pairs) && pairs[j]>>32 == pairs[i]>>32 {
			j++
		}
		a := uint32(pairs[i] >> 32)
		v := uint32(pairs[i])
		if j-i > 1 {
			v = uint32(len(t.multi)) | multiFlag
			t.multi = append(t.multi, uint32(j-i))
			for _, p := range pairs[i:j] {
				t.multi = append(t.multi, uint32(p))
			}
		}
		k := t.home(a)
		for t.slots[k] != 0 {
			if k++; k == n {
				k = 0
			}
		}
		t.slots[k] = uint64(a)<<32 | uint64(v+1)
		t.count++
		i = j
	}
	return t
}
