package match

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// refCIDR is the reference: the refs of every block containing the address or block q, found by
// trying each block.
func refCIDR(blocks []Entry, q netip.Prefix) []uint32 {
	var out []uint32
	for _, e := range blocks {
		p := netip.MustParsePrefix(e.Value).Masked()
		if p.Addr().Is4() == q.Addr().Is4() && p.Bits() <= q.Bits() && p.Contains(q.Addr()) {
			out = append(out, e.Ref)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestCIDRAgainstReference checks the interval table against trying every block, for dense sets of
// nested blocks of both families (and repeats), with addresses and blocks as queries, through
// Lookup and through a Searcher.
func TestCIDRAgainstReference(t *testing.T) {
	tests := []struct {
		name   string
		blocks int
		v6     bool
		minLen int
	}{
		{"v4-sparse", 50, false, 8},
		{"v4-dense", 2000, false, 20},
		{"v4-edges", 300, false, 0},
		{"v6-dense", 2000, true, 100},
		{"v6-wide", 500, true, 0},
		{"mixed", 3000, false, 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tt.blocks), uint64(tt.minLen)))
			// Addresses drawn near a few bases, so that blocks nest and share edges.
			addr := func(v6 bool) netip.Addr {
				if v6 {
					var b [16]byte
					b[0], b[1] = 0x20, 0x01
					if r.IntN(8) == 0 {
						b[0] = byte(r.Uint32()) // far away, or at the ends of the space
					}
					b[15], b[14], b[13] = byte(r.IntN(256)), byte(r.IntN(4)), byte(r.IntN(2))
					if r.IntN(16) == 0 {
						for i := range b {
							b[i] = 0xff
						}
					}
					return netip.AddrFrom16(b)
				}
				switch r.IntN(10) {
				case 0:
					return netip.AddrFrom4([4]byte{255, 255, 255, byte(r.IntN(256))})
				case 1:
					return netip.AddrFrom4([4]byte{0, 0, byte(r.IntN(4)), byte(r.IntN(256))})
				case 2:
					v := r.Uint32()
					return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
				}
				return netip.AddrFrom4([4]byte{10, 1, byte(r.IntN(8)), byte(r.IntN(256))})
			}
			var blocks []Entry
			b := NewBuilder(0)
			for i := range tt.blocks {
				v6 := tt.v6 || tt.name == "mixed" && i%3 == 0
				width := 32
				if v6 {
					width = 128
				}
				p := netip.PrefixFrom(addr(v6), tt.minLen+r.IntN(width-tt.minLen)).Masked()
				ref := uint32(r.IntN(tt.blocks)) // repeats, and refs shared between blocks
				e := Entry{KindCIDR, p.String(), ref}
				blocks = append(blocks, e)
				if err := b.Add(e); err != nil {
					t.Fatal(err)
				}
			}
			ix := b.Build()
			var sr Searcher
			snap := ix.Snapshot()
			for range 3000 {
				v6 := tt.v6 || tt.name == "mixed" && r.IntN(2) == 0
				a := addr(v6)
				q := netip.PrefixFrom(a, a.BitLen())
				kind, value := KindIP, a.String()
				if r.IntN(4) == 0 {
					q = netip.PrefixFrom(a, r.IntN(a.BitLen())).Masked()
					kind, value = KindCIDR, q.String()
				}
				want := refCIDR(blocks, q)
				got := ix.Lookup(nil, kind, value)
				slices.Sort(got)
				got = slices.Compact(got)
				if !slices.Equal(got, want) {
					t.Fatalf("Lookup(%s) = %v, want %v", value, got, want)
				}
				var batch []uint32
				snap.Search(&sr, []Candidate{{kind, []byte(value)}}, func(_ int, refs []uint32) { batch = append(batch, refs...) })
				slices.Sort(batch)
				batch = slices.Compact(batch)
				if !slices.Equal(batch, want) {
					t.Fatalf("Search(%s) = %v, want %v", value, batch, want)
				}
			}
		})
	}
}

// TestV4TableAgainstGeneric checks the IPv4 table against the generic exact table: the same
// addresses, indexed as KindOther text in one index and as addresses in another, must give the
// same refs.
func TestV4TableAgainstGeneric(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	addrs := make([]netip.Addr, 500)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{byte(r.IntN(3)), 0, byte(r.IntN(2)), byte(r.IntN(256))})
	}
	bv4, bgen := NewBuilder(0), NewBuilder(0)
	for range 2000 {
		a := addrs[r.IntN(len(addrs))]
		ref := uint32(r.IntN(300))
		if err := bv4.Add(Entry{KindIPv4, a.String(), ref}); err != nil {
			t.Fatal(err)
		}
		if err := bgen.Add(Entry{KindOther, a.String(), ref}); err != nil {
			t.Fatal(err)
		}
	}
	ix4, ixg := bv4.Build(), bgen.Build()
	if ix4.Len() != ixg.Len() {
		t.Errorf("Len %d, generic %d", ix4.Len(), ixg.Len())
	}
	var sr Searcher
	for i := range 1000 {
		a := netip.AddrFrom4([4]byte{byte(r.IntN(3)), 0, byte(r.IntN(2)), byte(r.IntN(256))})
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			want := ixg.Lookup(nil, KindOther, a.String())
			slices.Sort(want)
			got := ix4.Lookup(nil, KindIPv4, a.String())
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: %v, want %v", a, got, want)
			}
			var batch []uint32
			ix4.Snapshot().Search(&sr, []Candidate{{KindIP, []byte(a.String())}}, func(_ int, refs []uint32) { batch = append(batch, refs...) })
			slices.Sort(batch)
			if !slices.Equal(batch, want) {
				t.Fatalf("Search %s: %v, want %v", a, batch, want)
			}
		})
	}
}
