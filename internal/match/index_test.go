package match

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		kind     Kind
		in       string
		wantKind Kind
		want     string
		wantErr  bool
	}{
		{KindIPv4, " 192.0.2.1 ", KindIPv4, "192.0.2.1", false},
		{KindIP, "::ffff:192.0.2.1", KindIPv4, "192.0.2.1", false},
		{KindIPv6, "2001:DB8:0:0::1", KindIPv6, "2001:db8::1", false},
		{KindIPv6, "::ffff:192.0.2.1", KindIPv6, "", true}, // an IPv4 address in disguise
		{KindIPv4, "192.0.2.0/24", KindCIDR, "192.0.2.0/24", false},
		{KindIPv4, "192.0.2.7/32", KindIPv4, "192.0.2.7", false},
		{KindCIDR, "10.1.2.3/8", KindCIDR, "10.0.0.0/8", false},
		{KindCIDR, "::ffff:10.0.0.0/104", KindCIDR, "10.0.0.0/8", false},
		{KindCIDR, "10.0.0.1", KindCIDR, "", true},
		{KindIPv4, "300.1.1.1", KindIPv4, "", true},
		{KindDomain, "Evil.Example.", KindDomain, "evil.example", false},
		{KindDomain, "*.evil.example", KindDomain, "evil.example", false},
		{KindDomain, "a..b", KindDomain, "", true},
		{KindDomain, "a b.example", KindDomain, "", true},
		{KindDomain, strings.Repeat("a", 254), KindDomain, "", true},
		{KindURL, "HTTP://Evil.Example:80", KindURL, "http://evil.example/", false},
		{KindURL, "https://Evil.Example.:443/A/b?X=1#frag", KindURL, "https://evil.example/A/b?X=1", false},
		{KindURL, "https://evil.example:8443/x", KindURL, "https://evil.example:8443/x", false},
		{KindURL, "evil.example/path", KindURL, "http://evil.example/path", false},
		{KindURL, "http://User@Evil.example?q", KindURL, "http://User@evil.example/?q", false},
		{KindURL, "http://[2001:DB8::1]:80/", KindURL, "http://[2001:db8::1]/", false},
		{KindURL, "http:///path", KindURL, "", true},
		{KindURL, "http://a b/", KindURL, "", true},
		{KindEmail, "Bad.Guy@Evil.Example", KindEmail, "bad.guy@evil.example", false},
		{KindEmail, "no-at-sign", KindEmail, "", true},
		{KindMD5, "D41D8CD98F00B204E9800998ECF8427E", KindMD5, "d41d8cd98f00b204e9800998ecf8427e", false},
		{KindSHA1, "d41d8cd98f00b204e9800998ecf8427e", KindSHA1, "", true},
		{KindHash, "da39a3ee5e6b4b0d3255bfef95601890afd80709", KindSHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", false},
		{KindSHA256, strings.Repeat("g", 64), KindSHA256, "", true},
		{KindOther, " Mutex\tName ", KindOther, "Mutex\tName", false},
		{KindOther, "", KindOther, "", true},
		{KindOther, strings.Repeat("x", MaxValueLen+1), KindOther, "", true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.kind, clip(tt.in)), func(t *testing.T) {
			k, got, err := Normalize(tt.kind, tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Normalize(%s, %q) error %v, want error %v", tt.kind, tt.in, err, tt.wantErr)
			}
			if err == nil && (k != tt.wantKind || got != tt.want) {
				t.Errorf("Normalize(%s, %q) = %s %q, want %s %q", tt.kind, tt.in, k, got, tt.wantKind, tt.want)
			}
		})
	}
}

func TestParseKind(t *testing.T) {
	for k := KindIPv4; k < numKinds; k++ {
		got, err := ParseKind(strings.ToUpper(k.String()))
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k, got, err)
		}
	}
	if k, err := ParseKind("domain-name"); err != nil || k != KindDomain {
		t.Errorf("ParseKind(domain-name) = %v, %v", k, err)
	}
	if _, err := ParseKind("registry"); err == nil {
		t.Error("ParseKind(registry): no error")
	}
}

func build(t testing.TB, entries ...Entry) *Index {
	t.Helper()
	b := NewBuilder(len(entries))
	for _, e := range entries {
		if err := b.Add(e); err != nil {
			t.Fatalf("Add(%v): %v", e, err)
		}
	}
	return b.Build()
}

func TestLookup(t *testing.T) {
	ix := build(t,
		Entry{KindDomain, "Evil.Example", 1},
		Entry{KindDomain, "deep.sub.other.test.", 2},
		Entry{KindIPv4, "198.51.100.7", 3},
		Entry{KindIPv6, "2001:db8::7", 4},
		Entry{KindCIDR, "203.0.113.0/24", 5},
		Entry{KindCIDR, "203.0.0.0/16", 6},
		Entry{KindCIDR, "2001:db8:1::/48", 7},
		Entry{KindURL, "http://Evil.Example/a?b=1", 8},
		Entry{KindEmail, "Boss@Corp.Example", 9},
		Entry{KindMD5, "D41D8CD98F00B204E9800998ECF8427E", 10},
		Entry{KindSHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 11},
		Entry{KindSHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", 12},
		Entry{KindSHA512, strings.Repeat("ab", 64), 13},
		Entry{KindOther, "Global\\EvilMutex", 14},
		Entry{KindDomain, "evil.example", 15}, // the same value again, another indicator
		Entry{KindDomain, "evil.example", 1},  // and the same indicator again
		Entry{KindIPv4, "192.0.2.1", 16},
		Entry{KindCIDR, "203.0.113.0/24", 17}, // a block twice
	)
	tests := []struct {
		kind  Kind
		value string
		want  []uint32
	}{
		{KindDomain, "evil.example", []uint32{1, 15}},
		{KindDomain, "EVIL.EXAMPLE.", []uint32{1, 15}},
		{KindDomain, "a.b.evil.example", []uint32{1, 15}},
		{KindDomain, "notevil.example", nil},
		{KindDomain, "evil.example.com", nil},
		{KindDomain, "example", nil},
		{KindDomain, "x.deep.sub.other.test", []uint32{2}},
		{KindDomain, "sub.other.test", nil},
		{KindIPv4, "198.51.100.7", []uint32{3}},
		{KindIP, "::ffff:198.51.100.7", []uint32{3}},
		{KindIP, "::ffff:c633:6407", []uint32{3}},
		{KindIPv6, "2001:DB8:0::7", []uint32{4}},
		{KindIP, "198.51.100.8", nil},
		{KindIP, "203.0.113.9", []uint32{5, 6, 17}},
		{KindIP, "203.0.200.1", []uint32{6}},
		{KindIP, "::ffff:203.0.113.9", []uint32{5, 6, 17}},
		{KindIP, "2001:db8:1:ffff::1", []uint32{7}},
		{KindIP, "2001:db8:2::1", nil},
		{KindCIDR, "203.0.113.128/25", []uint32{5, 6, 17}},
		{KindURL, "HTTP://evil.example:80/a?b=1", []uint32{8}},
		{KindURL, "http://evil.example/a?b=2", nil},
		{KindEmail, "boss@corp.example", []uint32{9}},
		{KindHash, "d41d8cd98f00b204e9800998ecf8427e", []uint32{10}},
		{KindMD5, "D41D8CD98F00B204E9800998ECF8427E", []uint32{10}},
		{KindHash, "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", []uint32{11}},
		{KindSHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", []uint32{12}},
		{KindHash, strings.Repeat("AB", 64), []uint32{13}},
		{KindHash, strings.Repeat("ab", 32), nil}, // a prefix of the SHA-512 is another value
		{KindOther, "Global\\EvilMutex", []uint32{14}},
		{KindOther, "global\\evilmutex", nil},
		{KindDomain, "198.51.100.7", nil}, // kinds do not mix
		{KindIPv4, "not an address", nil},
		{KindIPv4, "192.0.2.1", []uint32{16}},
	}
	var sr Searcher
	snap := ix.Snapshot()
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.kind, clip(tt.value)), func(t *testing.T) {
			got := ix.Lookup(nil, tt.kind, tt.value)
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Lookup(%s, %q) = %v, want %v", tt.kind, tt.value, got, tt.want)
			}
			var batch []uint32
			snap.Search(&sr, []Candidate{{KindOther, []byte("nothing")}, {tt.kind, []byte(tt.value)}}, func(ci int, refs []uint32) {
				if ci != 1 {
					t.Errorf("Search reported candidate %d", ci)
				}
				batch = append(batch, refs...)
			})
			slices.Sort(batch)
			if !slices.Equal(batch, tt.want) {
				t.Errorf("Search(%s, %q) = %v, want %v", tt.kind, tt.value, batch, tt.want)
			}
		})
	}
	if ix.Len() != 15 || ix.Entries() != 18 {
		t.Errorf("Len %d Entries %d, want 15 and 18", ix.Len(), ix.Entries())
	}
}

func TestAddErrors(t *testing.T) {
	b := NewBuilder(0)
	for _, e := range []Entry{
		{KindSHA256, "abc", 1},
		{KindIPv4, "2001:db8::1", 2},
		{KindDomain, "", 3},
		{KindURL, "ftp://x/", MaxRef + 1},
		{Kind(99), "x", 4},
	} {
		err := b.Add(e)
		if err == nil {
			t.Errorf("Add(%v): no error", e)
			continue
		}
		if !strings.Contains(err.Error(), e.Kind.String()) {
			t.Errorf("Add(%v): error %q does not name the kind", e, err)
		}
	}
	if ix := b.Build(); ix.Len() != 0 {
		t.Errorf("%d values indexed from invalid entries", ix.Len())
	}
}

// TestManyValues checks a larger table, with probing chains, against a map.
func TestManyValues(t *testing.T) {
	const n = 50000
	b := NewBuilder(n)
	for i := range n {
		if err := b.Add(Entry{KindDomain, fmt.Sprintf("h%d.example", i), uint32(i)}); err != nil {
			t.Fatal(err)
		}
		if err := b.Add(Entry{KindOther, fmt.Sprintf("v%d", i%1000), uint32(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ix := b.Build()
	for i := 0; i < 2*n; i += 7 {
		got := ix.Lookup(nil, KindDomain, fmt.Sprintf("www.h%d.example", i))
		if i < n && !slices.Equal(got, []uint32{uint32(i)}) || i >= n && got != nil {
			t.Fatalf("h%d: %v", i, got)
		}
	}
	// Every shared value keeps all its refs, wherever in the table (and in whichever half of the
	// parallel build) it landed.
	for v := range 1000 {
		got := ix.Lookup(nil, KindOther, fmt.Sprintf("v%d", v))
		if len(got) != n/1000 {
			t.Fatalf("v%d: %d refs, want %d", v, len(got), n/1000)
		}
		for _, r := range got {
			if int(r)%1000 != v {
				t.Fatalf("v%d: ref %d", v, r)
			}
		}
	}
}
