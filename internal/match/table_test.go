package match

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/store"
)

// collidingIndex builds an index of domains in which the key of every "impostor" is stored under
// the hash of a "real" domain: the impostors collide with it on home slot and fingerprint, as
// keys crafted against the hash would. The impostors go in first, so that their slots come before
// the real one's in its probe run.
func collidingIndex(t *testing.T, real string, realRefs []uint32, impostors map[string]uint32) *Index {
	t.Helper()
	seed := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	b := newBuilderSeed(16, seed)
	key := func(name string) []byte {
		k, hk, err := encodeKey(make([]byte, hdrLen), KindDomain, []byte(name))
		if err != nil || k != KindDomain {
			t.Fatalf("encodeKey(%q): %v", name, err)
		}
		copy(hk, seed[:])
		hk[8] = classDomain
		return hk
	}
	h := hashKey(key(real))
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range impostors {
			if !yield(n) {
				return
			}
		}
	})
	for _, n := range names {
		if !b.tb.addHashed(key(n), impostors[n], h) {
			t.Fatal("addHashed refused a key")
		}
	}
	for _, r := range realRefs {
		b.tb.addHashed(key(real), r, h)
	}
	for _, n := range append(names, real) {
		c := min(strings.Count(n, ".")+1, maxLabels)
		b.labels[c/64] |= 1 << (c % 64)
	}
	return b.Build()
}

// TestFingerprintCollisions checks the exact table when keys share a home slot and a fingerprint:
// exact lookups (Lookup, a Searcher) return only the key's own refs; a Searcher that trusts
// fingerprints returns them too (with the impostors': Verify drops those), never fewer.
func TestFingerprintCollisions(t *testing.T) {
	const real = "real.example"
	tests := []struct {
		name      string
		realRefs  []uint32
		impostors map[string]uint32
	}{
		{"no impostor", []uint32{1}, nil},
		{"one impostor", []uint32{1}, map[string]uint32{"fake.example": 7}},
		{"three impostors", []uint32{1}, map[string]uint32{"fake.example": 7, "other.example": 8, "third.example": 9}},
		{"shared value", []uint32{1, 2, 3}, map[string]uint32{"fake.example": 7, "other.example": 8}},
		{"impostor shares a ref", []uint32{1, 7}, map[string]uint32{"fake.example": 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix := collidingIndex(t, real, tt.realRefs, tt.impostors)
			if got, want := ix.exact.count, 1+len(tt.impostors); got != want {
				t.Fatalf("%d keys in the table, want %d", got, want)
			}
			// Every slot but the last with the shared fingerprint says that another follows.
			more := 0
			for _, s := range ix.exact.slots {
				if s&slotMore != 0 {
					more++
				}
			}
			if more != len(tt.impostors) {
				t.Errorf("%d slots marked more, want %d", more, len(tt.impostors))
			}
			want := slices.Sorted(slices.Values(tt.realRefs))
			got := ix.Lookup(nil, KindDomain, real)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("Lookup(%s) = %v, want %v", real, got, want)
			}
			wantUnverified := slices.Clone(want)
			for _, r := range tt.impostors {
				wantUnverified = append(wantUnverified, r)
			}
			slices.Sort(wantUnverified)
			for _, unverified := range []bool{false, true} {
				sr := Searcher{Unverified: unverified}
				var got []uint32
				cands := []Candidate{{KindDomain, []byte("x.example")}, {KindDomain, []byte("www." + real)}}
				ix.Snapshot().Search(&sr, cands, func(ci int, refs []uint32) {
					if ci != 1 {
						t.Errorf("candidate %d hit %v", ci, refs)
					}
					got = append(got, refs...)
				})
				slices.Sort(got)
				w := want
				if unverified {
					w = wantUnverified
				}
				if !slices.Equal(got, w) {
					t.Errorf("Searcher{Unverified: %v}: %v, want %v", unverified, got, w)
				}
			}
			// The impostors are in the table under a hash that is not theirs: looked up by their
			// own, they are not found, and neither is the real domain's ref.
			for n := range tt.impostors {
				if got := ix.Lookup(nil, KindDomain, n); len(got) != 0 {
					t.Errorf("Lookup(%s) = %v, want none", n, got)
				}
			}
		})
	}
}

// TestMatcherVerifiesFingerprintHits checks that a Matcher with Compiled.Verify, which looks values
// up by fingerprint alone, still reports only the indicators a value really matches, for patterns
// and for indicators without one (whose values Verify looks up exactly).
func TestMatcherVerifiesFingerprintHits(t *testing.T) {
	ix := collidingIndex(t, "real.example", []uint32{0, 1}, map[string]uint32{"fake.example": 2, "other.example": 3})
	c := &Compiled{Index: ix}
	v := store.Version{}
	for i, p := range []string{"", "[domain-name:value = 'real.example']", "", "[domain-name:value = 'other.example']"} {
		if _, err := c.Indicators.Add(fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i), &v, p); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		line string
		want []uint32
	}{
		{"dns real.example", []uint32{0, 1}},
		{"dns fake.example", nil},             // in the table, but under another hash
		{"dns www.real.example", []uint32{0}}, // the pattern says '='
		{"dns nothing.example", nil},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			m := &Matcher{Source: ix, Verify: c.Verify}
			var got []uint32
			_, err := m.Run(t.Context(), strings.NewReader(tt.line+"\n"), Text{}, func(h *Hit) error {
				got = append(got, h.Refs...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("refs %v, want %v", got, tt.want)
			}
		})
	}
	// The same line through Verify directly: the impostors' refs, offered as a fingerprint hit
	// of real.example, are dropped.
	line := []Candidate{{KindDomain, []byte("real.example")}}
	if got := c.Verify([]uint32{0, 1, 2, 3}, line, time.Time{}); !slices.Equal(got, []uint32{0, 1}) {
		t.Errorf("Verify = %v, want [0 1]", got)
	}
}
