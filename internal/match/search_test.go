package match

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// TestSearchAgreesWithLookup checks the batched Searcher against Index.Lookup (a separate path:
// encodeKey, then one probe at a time) on generated names, addresses and URLs, valid and not:
// mixed case, wildcards, trailing and doubled dots, spaces, bytes a name may not hold, and suffixes
// of the indexed domains.
func TestSearchAgreesWithLookup(t *testing.T) {
	indexed := []string{"evil.example", "a.b.evil.example", "deep.sub.other.test", "x.y", "ab", "b.ab"}
	var entries []Entry
	for i, d := range indexed {
		entries = append(entries, Entry{KindDomain, d, uint32(i + 1)})
	}
	entries = append(entries, Entry{KindIPv4, "10.1.2.3", 20}, Entry{KindCIDR, "10.2.0.0/16", 21},
		Entry{KindURL, "http://evil.example/x", 22})
	ix := build(t, entries...)
	r := rand.New(rand.NewPCG(1, 2))
	parts := []string{"a", "b", "ab", "evil", "example", "deep", "sub", "other", "test", "x", "y", "EVIL", "Ab",
		".", ".", ".", "*.", " ", "-", "_", "!", "\xc3\xa9", "..", "1", "255", "0", "01"}
	gen := func() string {
		var b strings.Builder
		for range r.IntN(8) {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		return b.String()
	}
	var values []Candidate
	for range 20000 {
		v := gen()
		switch r.IntN(4) {
		case 0, 1:
			values = append(values, Candidate{KindDomain, []byte(v)})
		case 2:
			values = append(values, Candidate{KindIP, []byte(v)})
		default:
			values = append(values, Candidate{KindURL, []byte("http://" + v + "/x")})
		}
	}
	// a long name, past the limit of labels a lookup reads
	long := strings.Repeat("a.", 126) + "evil.example"
	values = append(values, Candidate{KindDomain, []byte(long)}, Candidate{KindDomain, []byte(long[:253])})
	for _, unverified := range []bool{false, true} {
		// Unverified trusts fingerprints: with a handful of keys, no fingerprint collides.
		sr := Searcher{Unverified: unverified}
		got := make([][]uint32, len(values))
		ix.Snapshot().Search(&sr, values, func(ci int, refs []uint32) {
			got[ci] = append(got[ci], refs...)
		})
		hits := 0
		for i, c := range values {
			want := ix.Lookup(nil, c.Kind, string(c.Value))
			slices.Sort(want)
			slices.Sort(got[i])
			if !slices.Equal(got[i], want) {
				t.Errorf("unverified %v, %s %q: Search %v, Lookup %v", unverified, c.Kind, c.Value, got[i], want)
			}
			if len(want) > 0 {
				hits++
			}
		}
		if hits < 100 {
			t.Errorf("only %d of %d values hit: the test does not exercise the matches", hits, len(values))
		}
	}
}

// TestParseIPv4Generated compares parseIPv4 with netip.ParseAddr on generated dotted strings.
func TestParseIPv4Generated(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	parts := []string{"0", "1", "9", "00", "01", "10", "99", "100", "199", "255", "256", "999", "1000", ".", ".", ".", "", "a", " "}
	for range 50000 {
		var b strings.Builder
		for range r.IntN(9) {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		in := b.String()
		got, ok := parseIPv4([]byte(in))
		a, err := netip.ParseAddr(in)
		if want := err == nil && a.Is4(); ok != want || ok && got != a.As4() {
			t.Fatalf("parseIPv4(%q) = %v, %v; netip: %v, %v", in, got, ok, a, err)
		}
	}
}
