package match

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/store"
)

// testCompiled builds a Compiled by hand: n synthetic values of every kind plus values that
// exercise the edges of each table (a value shared by several indicators, nested CIDR blocks of
// both families, parent domains), with indicators under three label sets, some without a pattern
// and one with an id that is not a canonical UUID.
func testCompiled(t testing.TB, n int) (*Compiled, []Entry) {
	t.Helper()
	entries := make([]Entry, 0, n+32)
	for i := range n {
		e := synthLike(i)
		e.Ref = uint32(i)
		entries = append(entries, e)
	}
	extra := []Entry{
		{KindDomain, "evil.example", 0}, {KindDomain, "evil.example", 1}, {KindDomain, "b.evil.example", 2},
		{KindIPv4, "198.51.100.7", 3}, {KindIPv4, "198.51.100.7", 4}, {KindIPv4, "198.51.100.7", 5},
		{KindCIDR, "10.0.0.0/8", 6}, {KindCIDR, "10.9.0.0/16", 7}, {KindCIDR, "10.9.3.0/24", 8}, {KindCIDR, "10.9.3.0/24", 9},
		{KindCIDR, "2001:db8::/32", 10}, {KindCIDR, "2001:db8:1::/48", 11}, {KindIPv6, "2001:db8:1::7", 12},
		{KindURL, "http://evil.example/x", 13}, {KindEmail, "a@evil.example", 13},
		{KindSHA256, strings.Repeat("ab", 32), 14}, {KindMD5, strings.Repeat("cd", 16), 14}, {KindMD5, strings.Repeat("cd", 16), 15},
		{KindOther, "mutex-1", 16},
	}
	entries = append(entries, extra...)
	b := newBuilderSeed(len(entries), [8]byte{1, 2, 3, 4, 5, 6, 7, 8}) // the same file in every process
	for _, e := range entries {
		if err := b.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	c := &Compiled{Index: b.Build(), At: time.Date(2025, 6, 1, 0, 0, 0, 123, time.UTC),
		NextChange: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), LastStored: time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC),
		State: StoreState{LastMarking: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Orgs: 0xfeedface}}
	labels := []store.Version{
		{CreatedByRef: "identity--a", Label: store.Label{Cell: 3}, OwnerLocal: true,
			Object: store.ObjectLabel{Label: store.Label{Cell: 3}, Owner: "identity--a", OwnerLocal: true}},
		{CreatedByRef: "identity--b", Label: store.Label{Cell: 9, Group: "group-1"},
			Object: store.ObjectLabel{Label: store.Label{Cell: 9, Group: "group-1"}, Owner: "identity--b"}},
		{Label: store.Label{Cell: store.NoLabelCell}, Object: store.ObjectLabel{Label: store.Label{Cell: store.NoLabelCell}}},
	}
	for i := range n + 17 {
		id := fmt.Sprintf("indicator--00000000-0000-4000-8000-%012x", i)
		if i == 5 {
			id = "indicator--NOT-A-UUID"
		}
		p := fmt.Sprintf("[x-test:value = '%d']", i)
		if i%7 == 0 {
			p = ""
		}
		if _, err := c.Indicators.Add(id, &labels[i%len(labels)], p); err != nil {
			t.Fatal(err)
		}
	}
	c.Stats = CompileStats{Read: n + 40, Active: n + 17, Revoked: 1, Expired: 2, NotYetValid: 3, NotSTIX: 4, Invalid: 5, NotIndexable: 6, Entries: len(entries)}
	return c, entries
}

// testQueries returns lookups over entries: each value, parents and children of domains,
// addresses inside and around blocks, and misses.
func testQueries(entries []Entry) []Candidate {
	var qs []Candidate
	for _, e := range entries {
		qs = append(qs, Candidate{e.Kind, []byte(e.Value)})
		switch e.Kind {
		case KindDomain:
			qs = append(qs, Candidate{KindDomain, []byte("x.y." + e.Value)}, Candidate{KindDomain, []byte("not" + e.Value)})
		case KindCIDR:
			p := netip.MustParsePrefix(e.Value)
			qs = append(qs, Candidate{KindIP, []byte(p.Addr().Next().String())}, Candidate{KindIP, []byte(p.Addr().Prev().String())},
				Candidate{KindCIDR, []byte(netip.PrefixFrom(p.Addr(), min(p.Bits()+4, p.Addr().BitLen())).String())})
		}
	}
	return append(qs, Candidate{KindIP, []byte("10.9.3.200")}, Candidate{KindIP, []byte("2001:db8:1::99")},
		Candidate{KindURL, []byte("http://nowhere.example/")}, Candidate{KindHash, []byte(strings.Repeat("0", 64))})
}

// allLookups returns the refs of every query through Lookup and through a Searcher.
func allLookups(ix *Index, qs []Candidate) (single, batched [][]uint32) {
	single = make([][]uint32, len(qs))
	for i, q := range qs {
		r := ix.Lookup(nil, q.Kind, string(q.Value))
		slices.Sort(r)
		single[i] = r
	}
	batched = make([][]uint32, len(qs))
	var sr Searcher
	ix.Snapshot().Search(&sr, qs, func(ci int, refs []uint32) {
		batched[ci] = slices.Sorted(slices.Values(refs))
	})
	return single, batched
}

func writeTemp(t *testing.T, c *Compiled) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), IndexFileName)
	if err := c.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFileRoundTrip(t *testing.T) {
	c, entries := testCompiled(t, 3000)
	path := writeTemp(t, c)
	for _, verify := range []bool{false, true} {
		t.Run(fmt.Sprintf("verify=%v", verify), func(t *testing.T) {
			l, err := OpenFile(path, OpenOptions{VerifyData: verify})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := l.Close(); err != nil {
					t.Error(err)
				}
			}()
			qs := testQueries(entries)
			s0, b0 := allLookups(c.Index, qs)
			s1, b1 := allLookups(l.Index, qs)
			hits := 0
			for i := range qs {
				if !slices.Equal(s0[i], s1[i]) || !slices.Equal(b0[i], b1[i]) {
					t.Errorf("%s %q: built %v / %v, loaded %v / %v", qs[i].Kind, qs[i].Value, s0[i], b0[i], s1[i], b1[i])
				}
				if len(s1[i]) > 0 {
					hits++
				}
			}
			if hits < len(entries) {
				t.Errorf("only %d of %d queries hit", hits, len(qs))
			}
			// The edge cases, spelled out.
			for _, tt := range []struct {
				kind  Kind
				value string
				want  []uint32
			}{
				{KindDomain, "a.b.evil.example", []uint32{0, 1, 2}},
				{KindDomain, "notevil.example", nil},
				{KindIP, "198.51.100.7", []uint32{3, 4, 5}},
				{KindIP, "10.9.3.4", []uint32{6, 7, 8, 9}},
				{KindCIDR, "10.9.0.0/20", []uint32{6, 7}},
				{KindIP, "2001:db8:1::7", []uint32{10, 11, 12}},
				{KindIP, "2001:db9::1", nil},
				{KindMD5, strings.Repeat("CD", 16), []uint32{14, 15}},
			} {
				got := l.Index.Lookup(nil, tt.kind, tt.value)
				slices.Sort(got)
				got = slices.DeleteFunc(got, func(r uint32) bool { return r >= 17 }) // synthetic values may collide
				if !slices.Equal(got, tt.want) {
					t.Errorf("%s %s: %v, want %v", tt.kind, tt.value, got, tt.want)
				}
			}
			if l.Index.Len() != c.Index.Len() || l.Index.Entries() != c.Index.Entries() {
				t.Errorf("len %d entries %d, want %d %d", l.Index.Len(), l.Index.Entries(), c.Index.Len(), c.Index.Entries())
			}
			if !l.At.Equal(c.At) || !l.NextChange.Equal(c.NextChange) || !l.LastStored.Equal(c.LastStored) || !l.State.LastMarking.Equal(c.State.LastMarking) ||
				l.State.Orgs != c.State.Orgs || l.Stats != c.Stats {
				t.Errorf("loaded %v %v %v %+v %+v\nwant   %v %v %v %+v %+v", l.At, l.NextChange, l.LastStored, l.State, l.Stats, c.At, c.NextChange, c.LastStored, c.State, c.Stats)
			}
			if l.Indicators.Len() != c.Indicators.Len() {
				t.Fatalf("%d indicators, want %d", l.Indicators.Len(), c.Indicators.Len())
			}
			for r := range uint32(c.Indicators.Len()) {
				if l.Indicators.ID(r) != c.Indicators.ID(r) || l.Indicators.Pattern(r) != c.Indicators.Pattern(r) || !reflect.DeepEqual(l.Indicators.Version(r), c.Indicators.Version(r)) {
					t.Fatalf("ref %d: loaded %q %q %+v, want %q %q %+v", r, l.Indicators.ID(r), l.Indicators.Pattern(r), l.Indicators.Version(r),
						c.Indicators.ID(r), c.Indicators.Pattern(r), c.Indicators.Version(r))
				}
			}
			// Written again from the loaded form (whose table is read from the file): the same bytes.
			var again bytes.Buffer
			if _, err := l.WriteTo(&again); err != nil {
				t.Fatal(err)
			}
			if orig, err := os.ReadFile(path); err != nil || !bytes.Equal(again.Bytes(), orig) {
				t.Errorf("the loaded index writes %d bytes that differ from the %d of its file (%v)", again.Len(), len(orig), err)
			}
			if id := l.Indicators.ID(5); id != "indicator--NOT-A-UUID" {
				t.Errorf("ref 5 id %q", id)
			}
			if id := l.Indicators.ID(6); id != "indicator--00000000-0000-4000-8000-000000000006" {
				t.Errorf("ref 6 id %q", id)
			}
		})
	}
}

// TestFileViewAndVerify checks the per-viewer filter and the full evaluation of patterns on a
// loaded index, against the same on the index it was written from.
func TestFileViewAndVerify(t *testing.T) {
	c := &Compiled{At: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	b := NewBuilder(0)
	add := func(cell uint8, pattern string, entries ...Entry) {
		v := store.Version{Label: store.Label{Cell: cell}, Object: store.ObjectLabel{Label: store.Label{Cell: cell}}}
		ref, err := c.Indicators.Add(fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", c.Indicators.Len()), &v, pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			e.Ref = ref
			if err := b.Add(e); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(2, "[domain-name:value = 'evil.example']", Entry{Kind: KindDomain, Value: "evil.example"})
	add(3, "[ipv4-addr:value = '198.51.100.7']", Entry{Kind: KindIPv4, Value: "198.51.100.7"})
	// Ref 2 never holds: Verify must evaluate it, not take the index hit.
	add(4, "[ipv4-addr:value = '198.51.100.7' AND ipv4-addr:value != '198.51.100.7']", Entry{Kind: KindIPv4, Value: "198.51.100.7"})
	// Ref 3 has no pattern: every index hit is a match.
	add(6, "", Entry{Kind: KindDomain, Value: "evil.example"})
	c.Index = b.Build()
	c.Stats.Active = c.Indicators.Len()
	l, err := OpenFile(writeTemp(t, c), OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tests := []struct {
		line string
		refs []uint32
		want []uint32
	}{
		{"evil.example", []uint32{0, 3}, []uint32{0, 3}},
		{"www.evil.example", []uint32{0, 3}, []uint32{3}}, // '=' on the parent domain
		{"198.51.100.7", []uint32{1, 2}, []uint32{1}},
		{"198.51.100.7 c2.example", []uint32{2}, nil},
		{"198.51.100.7", []uint32{1, 99}, []uint32{1}}, // not a ref
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			var ev Event
			scanText([]byte(tt.line), 0, &ev)
			for name, x := range map[string]*Compiled{"built": c, "loaded": l} {
				if got := x.Verify(slices.Clone(tt.refs), ev.Cands, time.Time{}); !slices.Equal(got, tt.want) {
					t.Errorf("%s: Verify %v, want %v", name, got, tt.want)
				}
			}
		})
	}
	// The viewer may read even cells: refs 0, 2 and 3.
	for name, x := range map[string]*Compiled{"built": c, "loaded": l} {
		f := x.NewViewFilter(func(v *store.Version) bool { return v.Label.Cell%2 == 0 && v.Object.Cell%2 == 0 })
		if got := f.Filter([]uint32{0, 1, 2, 3, 7}); !slices.Equal(got, []uint32{0, 2, 3}) {
			t.Errorf("%s: filter kept %v, want [0 2 3]", name, got)
		}
		rec := x.Record(&Hit{Line: 1, Kind: KindIPv4, Value: "198.51.100.7"}, []uint32{2, 1})
		if want := []string{"indicator--00000000-0000-4000-8000-000000000001", "indicator--00000000-0000-4000-8000-000000000002"}; !slices.Equal(rec.Indicators, want) {
			t.Errorf("%s: record %v", name, rec.Indicators)
		}
	}
}

func TestFileRefused(t *testing.T) {
	c, _ := testCompiled(t, 200)
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	if _, err := decodeFile(good, OpenOptions{VerifyData: true}); err != nil {
		t.Fatalf("the file as written: %v", err)
	}
	with := func(f func(b []byte) []byte) []byte { return f(slices.Clone(good)) }
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "shorter than a header"},
		{"header cut", good[:headerLen-1], "shorter than a header"},
		{"header only", good[:headerLen], "truncated"},
		{"last byte cut", good[:len(good)-1], "truncated"},
		{"half", good[:len(good)/2], "truncated"},
		{"a byte more", append(slices.Clone(good), 0), "truncated"},
		{"magic", with(func(b []byte) []byte { b[0] = 'X'; return b }), "no magic number"},
		{"version", with(func(b []byte) []byte { b[8] = fileVersion + 1; return b }), fmt.Sprintf("format version %d", fileVersion+1)},
		{"a header byte", with(func(b []byte) []byte { b[100] ^= 1; return b }), "checksum"},
		{"the checksum", with(func(b []byte) []byte { b[headerLen-1] ^= 0x80; return b }), "checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeFile(tt.data, OpenOptions{})
			if !errors.Is(err, ErrIndexFile) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want ErrIndexFile saying %q", err, tt.want)
			}
		})
	}
	// Every single bit of the header and section table is covered by the checksum.
	for i := range headerLen * 8 {
		b := slices.Clone(good)
		b[i/8] ^= 1 << (i % 8)
		if _, err := decodeFile(b, OpenOptions{}); !errors.Is(err, ErrIndexFile) {
			t.Fatalf("bit %d of the header flipped: accepted (%v)", i, err)
		}
	}
	// A byte of data: only VerifyData notices.
	b := slices.Clone(good)
	b[len(b)-10] ^= 0xff
	if _, err := decodeFile(b, OpenOptions{VerifyData: true}); !errors.Is(err, ErrIndexFile) || !strings.Contains(err.Error(), fmt.Sprintf("section %d", numSections)) {
		t.Errorf("damaged last section with VerifyData: %v", err)
	}
	// On disk: a file that is not there, and a truncated one.
	dir := t.TempDir()
	if _, err := OpenFile(filepath.Join(dir, "none.idx"), OpenOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	p := filepath.Join(dir, "cut.idx")
	if err := os.WriteFile(p, good[:len(good)-64], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(p, OpenOptions{}); !errors.Is(err, ErrIndexFile) || !strings.Contains(err.Error(), p) {
		t.Errorf("truncated file: %v", err)
	}
}

// TestWriteFileReplaces checks that WriteFile replaces the file whole and leaves no temporary file.
func TestWriteFileReplaces(t *testing.T) {
	c1, _ := testCompiled(t, 10)
	c2, _ := testCompiled(t, 500)
	path := writeTemp(t, c1)
	if err := c2.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	l, err := OpenFile(path, OpenOptions{VerifyData: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Indicators.Len() != c2.Indicators.Len() {
		t.Errorf("%d indicators, want %d", l.Indicators.Len(), c2.Indicators.Len())
	}
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		t.Errorf("directory holds %v", ents)
	}
	if err := c1.WriteFile(filepath.Join(t.TempDir(), "no", "such", "dir", "x.idx")); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

// probeLoaded runs every kind of lookup and accessor on an index decoded from damaged bytes: none
// may panic or loop.
func probeLoaded(c *Compiled, qs []Candidate) {
	allLookups(c.Index, qs)
	for r := range uint32(c.Indicators.Len()) + 2 {
		c.Indicators.ID(r)
		c.Indicators.Version(r)
		c.Indicators.Pattern(r)
	}
	var ev Event
	scanText([]byte("198.51.100.7 evil.example 10.9.3.4"), 0, &ev)
	c.Verify([]uint32{0, 1, 2, 3, 5, 1 << 30}, ev.Cands, time.Time{})
	c.NewViewFilter(func(*store.Version) bool { return true }).Filter([]uint32{0, 1, 2, 1 << 30})
}

func fuzzSeedFile(t testing.TB) ([]byte, []Candidate) {
	c, entries := testCompiled(t, 40)
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), testQueries(entries)
}

// FuzzOpenFile feeds arbitrary bytes to the loader: it never panics, and with VerifyData it
// accepts only the file as written (the header and every section byte for byte).
func FuzzOpenFile(f *testing.F) {
	good, qs := fuzzSeedFile(f)
	f.Add(good)
	f.Add(good[:headerLen])
	f.Add(good[:len(good)-1])
	f.Add([]byte(fileMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeFile(data, OpenOptions{})
		if err != nil {
			if !errors.Is(err, ErrIndexFile) {
				t.Fatalf("error %v does not wrap ErrIndexFile", err)
			}
			return
		}
		probeLoaded(c, qs)
		if _, err := decodeFile(data, OpenOptions{VerifyData: true}); err != nil {
			return
		}
		if !bytes.Equal(data[:headerLen], good[:headerLen]) || len(data) != len(good) {
			t.Fatal("a file other than the one written was accepted")
		}
		want, err := decodeFile(good, OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s0, b0 := allLookups(want.Index, qs)
		s1, b1 := allLookups(c.Index, qs)
		for i := range qs {
			if !slices.Equal(s0[i], s1[i]) || !slices.Equal(b0[i], b1[i]) {
				t.Fatalf("%s %q: %v / %v, the file as written gives %v / %v", qs[i].Kind, qs[i].Value, s1[i], b1[i], s0[i], b0[i])
			}
		}
		for r := range uint32(want.Indicators.Len()) {
			if c.Indicators.ID(r) != want.Indicators.ID(r) || c.Indicators.Pattern(r) != want.Indicators.Pattern(r) || !reflect.DeepEqual(c.Indicators.Version(r), want.Indicators.Version(r)) {
				t.Fatalf("ref %d differs from the file as written", r)
			}
		}
	})
}

// FuzzDamagedBody damages the arrays of a valid file, which only VerifyData notices: the loaded
// index may give wrong answers but must neither panic nor loop.
func FuzzDamagedBody(f *testing.F) {
	good, qs := fuzzSeedFile(f)
	r := rand.New(rand.NewPCG(1, 2))
	for range 64 {
		f.Add(uint32(r.IntN(len(good))), []byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
	}
	f.Add(uint32(headerLen+64), bytes.Repeat([]byte{0xff}, 4096))
	f.Fuzz(func(t *testing.T, at uint32, patch []byte) {
		data := slices.Clone(good)
		off := headerLen + int(at)%(len(data)-headerLen)
		copy(data[off:], patch)
		c, err := decodeFile(data, OpenOptions{})
		if err != nil {
			if !errors.Is(err, ErrIndexFile) {
				t.Fatalf("error %v does not wrap ErrIndexFile", err)
			}
			return
		}
		probeLoaded(c, qs)
	})
}
