package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// testCollections: create, find by id or alias, list, refuse duplicates.
func testCollections(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := collection(t, s, "alpha")
	b := store.Collection{ID: newID("x")[3:], Title: "No alias"}
	if err := s.CreateCollection(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{a.ID, "alpha"} {
		got, err := s.Collection(ctx, key)
		if err != nil {
			t.Fatalf("Collection(%q): %v", key, err)
		}
		if got.ID != a.ID || got.Alias != a.Alias || got.Title != a.Title || got.Description != a.Description ||
			!got.CreatedAt.Equal(a.CreatedAt) {
			t.Errorf("Collection(%q) = %+v, want %+v", key, got, a)
		}
	}
	gotB, err := s.Collection(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if gotB.Alias != "" || gotB.CreatedAt.IsZero() {
		t.Errorf("collection without alias: %+v (CreatedAt must be set when zero)", gotB)
	}
	if _, err := s.Collection(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown collection: %v, want ErrNotFound", err)
	}
	for name, c := range map[string]store.Collection{
		"same id":    {ID: a.ID, Alias: "other", Title: "x"},
		"same alias": {ID: newID("x")[3:], Alias: "alpha", Title: "x"},
	} {
		if err := s.CreateCollection(ctx, c); !errors.Is(err, store.ErrExists) {
			t.Errorf("%s: %v, want ErrExists", name, err)
		}
	}
	// A second collection without an alias is fine.
	if err := s.CreateCollection(ctx, store.Collection{ID: newID("x")[3:], Title: "No alias either"}); err != nil {
		t.Errorf("second collection without alias: %v", err)
	}
	cs, err := s.ListCollections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 {
		t.Errorf("ListCollections: %d collections, want 3", len(cs))
	}
}

// testDateAdded: date_added strictly increases within a collection, within and across batches, and
// List reports the same values as Write.
func testDateAdded(t *testing.T, s store.Store) {
	c := collection(t, s, "dates")
	var (
		fromWrite []time.Time
		ids       []string
	)
	for range 4 {
		var objs []*stix.Object
		for range 40 {
			id := newID("indicator")
			ids = append(ids, id)
			objs = append(objs, indicator(t, id, 1))
		}
		for _, o := range write(t, s, c.ID, objs...) {
			fromWrite = append(fromWrite, o.DateAdded)
		}
	}
	for i := 1; i < len(fromWrite); i++ {
		if !fromWrite[i].After(fromWrite[i-1]) {
			t.Fatalf("date_added %d (%v) is not after %d (%v)", i, fromWrite[i], i-1, fromWrite[i-1])
		}
	}
	listed := listAll(t, s, store.Filter{Collection: c.ID}, 1000)
	if len(listed) != len(ids) {
		t.Fatalf("listed %d, want %d", len(listed), len(ids))
	}
	for i, v := range listed {
		if v.ID != ids[i] || !v.DateAdded.Equal(fromWrite[i]) {
			t.Fatalf("listed %d: %s at %v, want %s at %v", i, v.ID, v.DateAdded, ids[i], fromWrite[i])
		}
	}
	// Outside a collection there is no date_added.
	out := write(t, s, "", indicator(t, newID("indicator"), 1))
	if !out[0].DateAdded.IsZero() {
		t.Errorf("date_added %v outside a collection", out[0].DateAdded)
	}
}

// testDuplicateJoinsCollection: a stored version written to another collection joins it.
func testDuplicateJoinsCollection(t *testing.T, s store.Store) {
	c1, c2 := collection(t, s, "one"), collection(t, s, "two")
	id := newID("indicator")
	first := write(t, s, c1.ID, indicator(t, id, 1))
	expect(t, first, store.StatusAdded)
	again := write(t, s, c1.ID, indicator(t, id, 1))
	expect(t, again, store.StatusDuplicate)
	if !again[0].DateAdded.Equal(first[0].DateAdded) {
		t.Errorf("duplicate in the same collection: date_added %v, want the original %v", again[0].DateAdded, first[0].DateAdded)
	}
	other := write(t, s, c2.ID, indicator(t, id, 1))
	expect(t, other, store.StatusDuplicate)
	if other[0].DateAdded.IsZero() {
		t.Error("duplicate joining a collection has no date_added")
	}
	byAlias := write(t, s, "two", indicator(t, id, 1))
	expect(t, byAlias, store.StatusDuplicate)
	if !byAlias[0].DateAdded.Equal(other[0].DateAdded) {
		t.Errorf("written again by alias: date_added %v, want %v", byAlias[0].DateAdded, other[0].DateAdded)
	}
	for _, c := range []store.Collection{c1, c2} {
		vs := listAll(t, s, store.Filter{Collection: c.ID}, 10)
		if len(vs) != 1 || vs[0].ID != id {
			t.Errorf("collection %s holds %v", c.Alias, keysOf(vs))
		}
	}
	if vs := listAll(t, s, store.Filter{}, 10); len(vs) != 1 {
		t.Errorf("the store holds %d versions, want 1", len(vs))
	}
}

// testPaging: pages of every size cover the result exactly once, in order.
func testPaging(t *testing.T, s store.Store) {
	c := collection(t, s, "paging")
	var want []vkey
	for b := range 5 {
		var objs []*stix.Object
		for i := range 50 {
			id := newID("indicator")
			objs = append(objs, indicator(t, id, b*100+i))
			want = append(want, vkey{id, key(t, ts(b*100+i))})
		}
		write(t, s, c.ID, objs...)
	}
	for _, scope := range []string{"", c.ID} {
		for _, limit := range []int{1, 7, 50, 249, 250, 251, 1000} {
			t.Run(fmt.Sprintf("collection=%t/limit=%d", scope != "", limit), func(t *testing.T) {
				got := keysOf(listAll(t, s, store.Filter{Collection: scope}, limit))
				if !equalKeys(got, want) {
					t.Errorf("paged result differs: %d versions, want %d", len(got), len(want))
				}
			})
		}
	}
	// A cursor past the end gives an empty page that keeps the cursor.
	p, err := s.List(t.Context(), store.Filter{Collection: c.ID}, store.Cursor{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	end, err := s.List(t.Context(), store.Filter{Collection: c.ID}, p.Next, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(end.Versions) != 0 || end.More || end.Next != p.Next {
		t.Errorf("after the end: %d versions, more %t, next %+v (want %+v)", len(end.Versions), end.More, end.Next, p.Next)
	}
}

// testPagingWhileWriting: objects written between pages appear once, after those already seen, and
// nothing is skipped or repeated.
func testPagingWhileWriting(t *testing.T, s store.Store) {
	c := collection(t, s, "live")
	var written []string
	add := func(n int) {
		var objs []*stix.Object
		for range n {
			id := newID("indicator")
			written = append(written, id)
			objs = append(objs, indicator(t, id, 1))
		}
		write(t, s, c.ID, objs...)
	}
	add(30)
	for _, scope := range []string{c.ID, ""} {
		t.Run(fmt.Sprintf("collection=%t", scope != ""), func(t *testing.T) {
			var (
				seen  []string
				after store.Cursor
			)
			for pages := 0; ; pages++ {
				p, err := s.List(t.Context(), store.Filter{Collection: scope}, after, 4)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range p.Versions {
					seen = append(seen, v.ID)
				}
				after = p.Next
				if pages < 10 {
					add(3) // new objects arrive while the client pages
				}
				if !p.More && pages >= 10 {
					// Drain what arrived after the last page.
					p, err = s.List(t.Context(), store.Filter{Collection: scope}, after, 1000)
					if err != nil {
						t.Fatal(err)
					}
					for _, v := range p.Versions {
						seen = append(seen, v.ID)
					}
					break
				}
			}
			if !slices.Equal(seen, written) {
				t.Errorf("paged %d ids, written %d; they differ (skip, repeat or order)", len(seen), len(written))
			}
		})
	}
}

// fixture is a small store with a known content, for the filter tests.
type fixture struct {
	coll       store.Collection
	ind1, ind2 string // indicators; ind1 has versions 10, 20, 30 (20 outside the collection)
	mal        string // malware, spec 2.1
	old        string // an indicator without spec_version ("2.0")
	ip         string // an ipv4-addr SCO
}

func newFixture(t *testing.T, s store.Store) fixture {
	f := fixture{coll: collection(t, s, "fixture"), ind1: newID("indicator"), ind2: newID("indicator"),
		mal: newID("malware"), old: newID("indicator"), ip: newID("ipv4-addr")}
	write(t, s, f.coll.ID, indicator(t, f.ind1, 10), indicator(t, f.ind2, 10),
		decode(t, `{"type":"malware","spec_version":"2.1","id":"`+f.mal+`","created":"`+ts(0)+`","modified":"`+ts(10)+`","name":"m","is_family":false}`))
	write(t, s, "", indicator(t, f.ind1, 20))
	write(t, s, f.coll.ID, indicator(t, f.ind1, 30), ipv4(t, f.ip, "198.51.100.3"),
		decode(t, `{"type":"indicator","id":"`+f.old+`","created":"2016-01-01T00:00:00.000Z","modified":"2016-01-01T00:00:00.000Z","labels":["malicious-activity"],"pattern":"[ipv4-addr:value = '203.0.113.1']","valid_from":"2016-01-01T00:00:00Z"}`))
	return f
}

// testFilterFields: each Filter field narrows the result; values within a field are ORed.
func testFilterFields(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	k := func(n int) string { return key(t, ts(n)) }
	oldKey := key(t, "2016-01-01T00:00:00.000Z")
	all := store.VersionMatch{Kind: store.VersionsAll}
	cases := []struct {
		name   string
		filter store.Filter
		want   []vkey
	}{
		{"store, latest", store.Filter{},
			[]vkey{{f.ind2, k(10)}, {f.mal, k(10)}, {f.ind1, k(30)}, {f.ip, ""}, {f.old, oldKey}}},
		{"store, all", store.Filter{Versions: all},
			[]vkey{{f.ind1, k(10)}, {f.ind2, k(10)}, {f.mal, k(10)}, {f.ind1, k(20)}, {f.ind1, k(30)}, {f.ip, ""}, {f.old, oldKey}}},
		{"collection, all", store.Filter{Collection: f.coll.ID, Versions: all},
			[]vkey{{f.ind1, k(10)}, {f.ind2, k(10)}, {f.mal, k(10)}, {f.ind1, k(30)}, {f.ip, ""}, {f.old, oldKey}}},
		{"collection by alias", store.Filter{Collection: f.coll.Alias, Versions: all},
			[]vkey{{f.ind1, k(10)}, {f.ind2, k(10)}, {f.mal, k(10)}, {f.ind1, k(30)}, {f.ip, ""}, {f.old, oldKey}}},
		{"ids", store.Filter{IDs: []string{f.ind1, f.mal, newID("indicator")}, Versions: all},
			[]vkey{{f.ind1, k(10)}, {f.mal, k(10)}, {f.ind1, k(20)}, {f.ind1, k(30)}}},
		{"types", store.Filter{Types: []string{"malware", "ipv4-addr"}},
			[]vkey{{f.mal, k(10)}, {f.ip, ""}}},
		{"spec version 2.0", store.Filter{SpecVersions: []string{"2.0"}, Versions: all},
			[]vkey{{f.old, oldKey}}},
		{"spec version 2.1 and type", store.Filter{Collection: f.coll.ID, SpecVersions: []string{"2.1"}, Types: []string{"indicator"}},
			[]vkey{{f.ind2, k(10)}, {f.ind1, k(30)}}},
		{"fields are ANDed", store.Filter{IDs: []string{f.ind1}, Types: []string{"malware"}}, nil},
		{"unknown type", store.Filter{Types: []string{"campaign"}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := keysOf(listAll(t, s, tc.filter, 2))
			if !equalKeys(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
	if _, err := s.List(t.Context(), store.Filter{Collection: "missing"}, store.Cursor{}, 10); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("List of an unknown collection: %v, want ErrNotFound", err)
	}
}

// testVersionMatch: versions are selected among those in scope.
func testVersionMatch(t *testing.T, s store.Store) {
	f := newFixture(t, s)
	k := func(n int) string { return key(t, ts(n)) }
	only := []string{f.ind1}
	cases := []struct {
		name  string
		coll  string
		match store.VersionMatch
		want  []string // keys of ind1's versions, in order
	}{
		{"store last", "", store.VersionMatch{Kind: store.VersionsLast}, []string{k(30)}},
		{"store first", "", store.VersionMatch{Kind: store.VersionsFirst}, []string{k(10)}},
		{"store all", "", store.VersionMatch{Kind: store.VersionsAll}, []string{k(10), k(20), k(30)}},
		{"store keys", "", store.VersionMatch{Kind: store.VersionsKeys, Keys: []string{k(20), k(30), k(99)}}, []string{k(20), k(30)}},
		{"store no keys", "", store.VersionMatch{Kind: store.VersionsKeys}, nil},
		{"collection last", f.coll.ID, store.VersionMatch{Kind: store.VersionsLast}, []string{k(30)}},
		{"collection first", f.coll.ID, store.VersionMatch{Kind: store.VersionsFirst}, []string{k(10)}},
		{"collection all", f.coll.ID, store.VersionMatch{Kind: store.VersionsAll}, []string{k(10), k(30)}},
		{"collection keys: version outside", f.coll.ID, store.VersionMatch{Kind: store.VersionsKeys, Keys: []string{k(20)}}, nil},
		{"collection keys", f.coll.ID, store.VersionMatch{Kind: store.VersionsKeys, Keys: []string{k(10), k(20)}}, []string{k(10)}},
		{"store first and last", "", store.VersionMatch{Kind: store.VersionsKeys, First: true, Last: true}, []string{k(10), k(30)}},
		{"store key and last", "", store.VersionMatch{Kind: store.VersionsKeys, Keys: []string{k(20)}, Last: true}, []string{k(20), k(30)}},
		{"store last, key repeated", "", store.VersionMatch{Kind: store.VersionsKeys, Keys: []string{k(30)}, Last: true}, []string{k(30)}},
		{"collection first and key", f.coll.ID, store.VersionMatch{Kind: store.VersionsKeys, Keys: []string{k(30)}, First: true}, []string{k(10), k(30)}},
		{"collection last only", f.coll.ID, store.VersionMatch{Kind: store.VersionsKeys, Last: true}, []string{k(30)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, v := range listAll(t, s, store.Filter{Collection: tc.coll, IDs: only, Versions: tc.match}, 1) {
				got = append(got, v.VersionKey)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}

	// A collection holding only the older versions: its latest is the latest it holds.
	c := collection(t, s, "older")
	id := newID("indicator")
	write(t, s, c.ID, indicator(t, id, 1), indicator(t, id, 2))
	write(t, s, "", indicator(t, id, 3))
	for _, tc := range []struct {
		coll string
		want string
	}{{c.ID, k(2)}, {"", k(3)}} {
		vs := listAll(t, s, store.Filter{Collection: tc.coll, IDs: []string{id}}, 10)
		if len(vs) != 1 || vs[0].VersionKey != tc.want {
			t.Errorf("latest in scope %q: %v, want %s", tc.coll, keysOf(vs), tc.want)
		}
	}
}

// testAddedAfter: only versions added strictly after the time are returned.
func testAddedAfter(t *testing.T, s store.Store) {
	c := collection(t, s, "after")
	var objs []*stix.Object
	for range 10 {
		objs = append(objs, indicator(t, newID("indicator"), 1))
	}
	out := write(t, s, c.ID, objs...)
	all := listAll(t, s, store.Filter{Collection: c.ID}, 100)
	stored := listAll(t, s, store.Filter{}, 100)
	for _, cut := range []int{0, 4, 9} {
		t.Run(fmt.Sprintf("collection/after %d", cut), func(t *testing.T) {
			got := listAll(t, s, store.Filter{Collection: c.ID, AddedAfter: out[cut].DateAdded}, 3)
			if !equalKeys(keysOf(got), keysOf(all[cut+1:])) {
				t.Errorf("got %d versions %v, want %v", len(got), keysOf(got), keysOf(all[cut+1:]))
			}
		})
		t.Run(fmt.Sprintf("store/after %d", cut), func(t *testing.T) {
			got := listAll(t, s, store.Filter{AddedAfter: stored[cut].Stored}, 3)
			if !equalKeys(keysOf(got), keysOf(stored[cut+1:])) {
				t.Errorf("got %d versions, want %d", len(got), len(stored)-cut-1)
			}
		})
	}
	// Just before the first: everything.
	got := listAll(t, s, store.Filter{Collection: c.ID, AddedAfter: out[0].DateAdded.Add(-time.Microsecond)}, 100)
	if len(got) != len(all) {
		t.Errorf("added after just before the first: %d, want %d", len(got), len(all))
	}
}

// testScanEqualsPaging: Scan yields what List pages yield, in the same order.
func testScanEqualsPaging(t *testing.T, s store.Store) {
	c := collection(t, s, "scan")
	for b := range 3 {
		var objs []*stix.Object
		for i := range 700 {
			id := newID("indicator")
			objs = append(objs, indicator(t, id, b), indicator(t, id, b+1+i%2))
		}
		write(t, s, c.ID, objs...)
	}
	filters := []store.Filter{
		{},
		{Versions: store.VersionMatch{Kind: store.VersionsAll}},
		{Collection: c.ID},
		{Collection: c.ID, Versions: store.VersionMatch{Kind: store.VersionsFirst}},
	}
	for i, f := range filters {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			var scanned []store.Version
			for v, err := range s.Scan(t.Context(), f) {
				if err != nil {
					t.Fatal(err)
				}
				scanned = append(scanned, v)
			}
			paged := listAll(t, s, f, 97)
			if !equalKeys(keysOf(scanned), keysOf(paged)) {
				t.Errorf("Scan gave %d versions, List %d; they differ", len(scanned), len(paged))
			}
			if len(scanned) < 2100 {
				t.Errorf("Scan gave %d versions, want at least 2100", len(scanned))
			}
		})
	}
	// An error comes through the iterator.
	n := 0
	for _, err := range s.Scan(t.Context(), store.Filter{Collection: "missing"}) {
		n++
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Scan of an unknown collection: %v, want ErrNotFound", err)
		}
	}
	if n != 1 {
		t.Errorf("Scan of an unknown collection yielded %d times, want once with the error", n)
	}
}

// testScanStops: breaking out of a Scan stops it, and the store goes on working.
func testScanStops(t *testing.T, s store.Store) {
	var objs []*stix.Object
	for range 50 {
		objs = append(objs, indicator(t, newID("indicator"), 1))
	}
	write(t, s, "", objs...)
	for range 20 { // more times than a backend has connections, to catch a leak
		n := 0
		for _, err := range s.Scan(t.Context(), store.Filter{}) {
			if err != nil {
				t.Fatal(err)
			}
			n++
			if n == 3 {
				break
			}
		}
		if n != 3 {
			t.Fatalf("scanned %d", n)
		}
	}
	expect(t, write(t, s, "", indicator(t, newID("indicator"), 1)), store.StatusAdded)
	if vs := listAll(t, s, store.Filter{}, 100); len(vs) != 51 {
		t.Errorf("%d versions after scans, want 51", len(vs))
	}
}
