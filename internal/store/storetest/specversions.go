package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// The same version of an object may be held in two forms, STIX 2.0 and STIX 2.1 (MITRE ATT&CK
// publishes its Enterprise bundle in 2.0 and its ICS bundle in 2.1, with over a hundred objects in
// common): a version is identified by (id, version key, spec version).

// indicator20 builds the STIX 2.0 form of an indicator version: no spec_version, labels instead of
// pattern_type; extra holds further members.
func indicator20(t testing.TB, id string, modified int, extra ...string) *stix.Object {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, `{"type":"indicator","id":%q,"created":%q,"modified":%q,"labels":["malicious-activity"],`+
		`"pattern":"[ipv4-addr:value = '198.51.100.1']","valid_from":%q`, id, ts(0), ts(modified), ts(0))
	for _, e := range extra {
		b.WriteString(",")
		b.WriteString(e)
	}
	b.WriteString("}")
	o := decode(t, b.String())
	if o.SpecVersion != stix.SpecVersion20 {
		t.Fatalf("test is broken: the 2.0 form decodes as STIX %s", o.SpecVersion)
	}
	return o
}

// form identifies a stored form in comparisons.
type form struct{ id, key, spec string }

func (f form) String() string { return fmt.Sprintf("%s@%s/%s", f.id[len(f.id)-4:], f.key, f.spec) }

func formsOf(vs []store.Version) []form {
	out := make([]form, len(vs))
	for i, v := range vs {
		out[i] = form{v.ID, v.VersionKey, v.SpecVersion}
	}
	return out
}

// testSpecVersionForms: the 2.0 and 2.1 forms of one version are both stored, each deduplicates and
// conflicts on its own, and the 2.1 form is the latest, whatever the order they arrive in.
func testSpecVersionForms(t *testing.T, s store.Store) {
	orders := []struct {
		name  string
		write func(t *testing.T, f20, f21 *stix.Object) []store.Outcome
	}{
		{"2.0 then 2.1", func(t *testing.T, f20, f21 *stix.Object) []store.Outcome {
			return append(write(t, s, "", f20), write(t, s, "", f21)...)
		}},
		{"2.1 then 2.0", func(t *testing.T, f20, f21 *stix.Object) []store.Outcome {
			out := write(t, s, "", f21)
			return append(write(t, s, "", f20), out...)
		}},
		{"one batch", func(t *testing.T, f20, f21 *stix.Object) []store.Outcome {
			return write(t, s, "", f20, f21)
		}},
		{"one batch, 2.1 first", func(t *testing.T, f20, f21 *stix.Object) []store.Outcome {
			out := write(t, s, "", f21, f20)
			return []store.Outcome{out[1], out[0]}
		}},
	}
	for _, order := range orders {
		t.Run(order.name, func(t *testing.T) {
			id := newID("indicator")
			f20, f21 := indicator20(t, id, 5), indicator(t, id, 5)
			expect(t, order.write(t, f20, f21), store.StatusAdded, store.StatusAdded)

			vs, err := s.Versions(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			k := key(t, ts(5))
			if got, want := formsOf(vs), []form{{id, k, "2.0"}, {id, k, "2.1"}}; !slices.Equal(got, want) {
				t.Fatalf("Versions: %v, want %v", got, want)
			}
			if !bytes.Equal(vs[0].Raw, f20.Raw) || !bytes.Equal(vs[1].Raw, f21.Raw) {
				t.Error("the stored bytes of the forms are not those written")
			}

			// Each form is a duplicate of itself only, alone or together.
			expect(t, write(t, s, "", f20), store.StatusDuplicate)
			expect(t, write(t, s, "", f21), store.StatusDuplicate)
			expect(t, write(t, s, "", f21, f20), store.StatusDuplicate, store.StatusDuplicate)
			relaid := decode(t, " "+string(bytes.ReplaceAll(f20.Raw, []byte(","), []byte(" ,")))+"\n")
			expect(t, write(t, s, "", relaid), store.StatusDuplicate)

			// Each form conflicts on its own.
			out := write(t, s, "", indicator20(t, id, 5, `"description":"other"`), indicator(t, id, 5, `"description":"other"`))
			expect(t, out, store.StatusRejected, store.StatusRejected)
			for i, o := range out {
				if !errors.Is(o.Err, store.ErrConflict) {
					t.Errorf("conflicting form %d: %v, want ErrConflict", i, o.Err)
				}
			}
			if vs, err := s.Versions(t.Context(), id); err != nil || len(vs) != 2 ||
				!bytes.Equal(vs[0].Raw, f20.Raw) || !bytes.Equal(vs[1].Raw, f21.Raw) {
				t.Errorf("after the conflicts: %v, %v", formsOf(vs), err)
			}

			// The latest is the 2.1 form; the 2.0 form is there for those who ask for it.
			for _, tc := range []struct {
				specs []string
				kind  store.VersionMatchKind
				want  []form
			}{
				{nil, store.VersionsLast, []form{{id, k, "2.1"}}},
				{nil, store.VersionsFirst, []form{{id, k, "2.1"}}},
				{nil, store.VersionsAll, []form{{id, k, "2.1"}}},
				{[]string{"2.0"}, store.VersionsLast, []form{{id, k, "2.0"}}},
				{[]string{"2.0"}, store.VersionsAll, []form{{id, k, "2.0"}}},
				{[]string{"2.1"}, store.VersionsLast, []form{{id, k, "2.1"}}},
				{[]string{"2.0", "2.1"}, store.VersionsAll, formsOf(vs)},
				{[]string{"2.0", "2.1"}, store.VersionsLast, formsOf(vs)},
			} {
				f := store.Filter{IDs: []string{id}, SpecVersions: tc.specs, Versions: store.VersionMatch{Kind: tc.kind}}
				got := formsOf(listAll(t, s, f, 10))
				slices.SortFunc(got, func(a, b form) int { return strings.Compare(a.spec, b.spec) })
				if !slices.Equal(got, tc.want) {
					t.Errorf("spec versions %v, match %d: %v, want %v", tc.specs, tc.kind, got, tc.want)
				}
			}
		})
	}
	st, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Objects != int64(len(orders)) || st.Versions != int64(2*len(orders)) || st.ByType["indicator"] != int64(len(orders)) {
		t.Errorf("Stats: %d objects, %d versions, %d indicators; want %d, %d, %d",
			st.Objects, st.Versions, st.ByType["indicator"], len(orders), 2*len(orders), len(orders))
	}
	rep, err := s.Check(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 0 || rep.VersionsChecked != int64(2*len(orders)) {
		t.Errorf("Check: %d versions checked, problems %v", rep.VersionsChecked, rep.Problems)
	}
}

// testSpecVersionLatest: the latest form is that of the greatest version key, and among the forms of
// that key the greatest spec version: a later version held only in 2.0 is the latest.
func testSpecVersionLatest(t *testing.T, s store.Store) {
	id := newID("indicator")
	write(t, s, "", indicator20(t, id, 10), indicator(t, id, 10))
	write(t, s, "", indicator20(t, id, 20))
	check := func(want form) {
		t.Helper()
		got := formsOf(listAll(t, s, store.Filter{IDs: []string{id}}, 10))
		if !slices.Equal(got, []form{want}) {
			t.Errorf("latest: %v, want %v", got, want)
		}
		rep, err := s.Check(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 0 {
			t.Errorf("Check: %v", rep.Problems)
		}
	}
	check(form{id, key(t, ts(20)), "2.0"})
	write(t, s, "", indicator(t, id, 20))
	check(form{id, key(t, ts(20)), "2.1"})
	write(t, s, "", indicator(t, id, 15), indicator20(t, id, 15)) // earlier: the latest stays
	check(form{id, key(t, ts(20)), "2.1"})
	write(t, s, "", indicator20(t, id, 30))
	check(form{id, key(t, ts(30)), "2.0"})
}

// testSpecVersionRevocation: an object is revoked once any form of any version says so, and no later
// version may be added in either spec version; the other form of the revoking version still may.
func testSpecVersionRevocation(t *testing.T, s store.Store) {
	id := newID("indicator")
	expect(t, write(t, s, "", indicator20(t, id, 10), indicator20(t, id, 20, `"revoked":true`)),
		store.StatusAdded, store.StatusAdded)
	out := write(t, s, "", indicator(t, id, 20, `"revoked":true`), indicator(t, id, 10),
		indicator(t, id, 30), indicator20(t, id, 30), indicator(t, id, 25, `"revoked":true`))
	expect(t, out, store.StatusAdded, store.StatusAdded, store.StatusRejected, store.StatusRejected, store.StatusRejected)
	for i, o := range out[2:] {
		if !errors.Is(o.Err, store.ErrRevoked) {
			t.Errorf("later version %d: %v, want ErrRevoked", i, o.Err)
		}
	}
	vs, err := s.Versions(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	k10, k20 := key(t, ts(10)), key(t, ts(20))
	if got, want := formsOf(vs), []form{{id, k10, "2.0"}, {id, k10, "2.1"}, {id, k20, "2.0"}, {id, k20, "2.1"}}; !slices.Equal(got, want) {
		t.Errorf("Versions: %v, want %v", got, want)
	}
	st, err := s.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Revoked != 1 || st.Objects != 1 {
		t.Errorf("Stats: %d revoked of %d objects, want 1 of 1", st.Revoked, st.Objects)
	}
}

// testSpecVersionFilter: SpecVersions keeps the forms of those spec versions, and without it only the
// greatest spec version of each version in scope counts; then the version match selects, then
// AddedAfter. A collection may hold one form of a version and not the other.
func testSpecVersionFilter(t *testing.T, s store.Store) {
	c := collection(t, s, "forms")
	a, b := newID("indicator"), newID("indicator")
	// In store order: a10/2.0 (in c), b5/2.1 (in c), b5/2.0 (in c), a10/2.1 (not in c), a20/2.0 (in c).
	write(t, s, c.ID, indicator20(t, a, 10), indicator(t, b, 5), indicator20(t, b, 5))
	write(t, s, "", indicator(t, a, 10))
	write(t, s, c.ID, indicator20(t, a, 20))
	k5, k10, k20 := key(t, ts(5)), key(t, ts(10)), key(t, ts(20))
	a10o, a10n, a20o := form{a, k10, "2.0"}, form{a, k10, "2.1"}, form{a, k20, "2.0"}
	b5n, b5o := form{b, k5, "2.1"}, form{b, k5, "2.0"}

	// The stored and added times, to cut at with AddedAfter.
	stored := map[form]time.Time{}
	for _, v := range listAll(t, s, store.Filter{SpecVersions: []string{"2.0", "2.1"}, Versions: store.VersionMatch{Kind: store.VersionsAll}}, 10) {
		stored[form{v.ID, v.VersionKey, v.SpecVersion}] = v.Stored
	}
	added := map[form]time.Time{}
	for _, v := range listAll(t, s, store.Filter{Collection: c.ID, SpecVersions: []string{"2.0", "2.1"}, Versions: store.VersionMatch{Kind: store.VersionsAll}}, 10) {
		added[form{v.ID, v.VersionKey, v.SpecVersion}] = v.DateAdded
	}
	if len(stored) != 5 || len(added) != 4 {
		t.Fatalf("the store holds %d forms and the collection %d, want 5 and 4", len(stored), len(added))
	}

	last, first, all := store.VersionMatch{Kind: store.VersionsLast}, store.VersionMatch{Kind: store.VersionsFirst}, store.VersionMatch{Kind: store.VersionsAll}
	keys := func(ks ...string) store.VersionMatch { return store.VersionMatch{Kind: store.VersionsKeys, Keys: ks} }
	both, v20, v21 := []string{"2.0", "2.1"}, []string{"2.0"}, []string{"2.1"}
	cases := []struct {
		name   string
		filter store.Filter
		want   []form
	}{
		{"store, last", store.Filter{Versions: last}, []form{b5n, a20o}},
		{"store, first", store.Filter{Versions: first}, []form{b5n, a10n}},
		{"store, all", store.Filter{Versions: all}, []form{b5n, a10n, a20o}},
		{"store, keys", store.Filter{Versions: keys(k10, k5)}, []form{b5n, a10n}},
		{"store, 2.0, last", store.Filter{SpecVersions: v20, Versions: last}, []form{b5o, a20o}},
		{"store, 2.0, first", store.Filter{SpecVersions: v20, Versions: first}, []form{a10o, b5o}},
		{"store, 2.0, keys", store.Filter{SpecVersions: v20, Versions: keys(k10)}, []form{a10o}},
		{"store, 2.1, last", store.Filter{SpecVersions: v21, Versions: last}, []form{b5n, a10n}},
		{"store, 2.1, all", store.Filter{SpecVersions: v21, Versions: all}, []form{b5n, a10n}},
		{"store, both, last", store.Filter{SpecVersions: both, Versions: last}, []form{b5n, b5o, a20o}},
		{"store, both, first", store.Filter{SpecVersions: both, Versions: first}, []form{a10o, b5n, b5o, a10n}},
		{"store, both, all", store.Filter{SpecVersions: both, Versions: all}, []form{a10o, b5n, b5o, a10n, a20o}},
		{"store, ids and type", store.Filter{IDs: []string{a}, Types: []string{"indicator"}, Versions: all}, []form{a10n, a20o}},
		{"collection, last", store.Filter{Collection: c.ID, Versions: last}, []form{b5n, a20o}},
		{"collection, first: the 2.1 form is not in it", store.Filter{Collection: c.ID, Versions: first}, []form{a10o, b5n}},
		{"collection, all", store.Filter{Collection: c.ID, Versions: all}, []form{a10o, b5n, a20o}},
		{"collection, keys", store.Filter{Collection: c.ID, Versions: keys(k10)}, []form{a10o}},
		{"collection, 2.1, last", store.Filter{Collection: c.ID, SpecVersions: v21, Versions: last}, []form{b5n}},
		{"collection, 2.0, last", store.Filter{Collection: c.ID, SpecVersions: v20, Versions: last}, []form{b5o, a20o}},
		{"collection, both, first", store.Filter{Collection: c.ID, SpecVersions: both, Versions: first}, []form{a10o, b5n, b5o}},
		{"collection, ids", store.Filter{Collection: c.ID, IDs: []string{a}, Versions: all}, []form{a10o, a20o}},
		// AddedAfter cuts what the version match selected: it does not make another version first.
		{"store, 2.0, first, added after a10/2.0", store.Filter{SpecVersions: v20, Versions: first, AddedAfter: stored[a10o]}, []form{b5o}},
		{"store, last, added after a10/2.1", store.Filter{Versions: last, AddedAfter: stored[a10n]}, []form{a20o}},
		{"store, all, added after b5/2.0", store.Filter{Versions: all, AddedAfter: stored[b5o]}, []form{a10n, a20o}},
		{"collection, first, added after a10/2.0", store.Filter{Collection: c.ID, Versions: first, AddedAfter: added[a10o]}, []form{b5n}},
		{"collection, all, added after b5/2.1", store.Filter{Collection: c.ID, Versions: all, AddedAfter: added[b5n]}, []form{a20o}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{1, 2, 10} {
				if got := formsOf(listAll(t, s, tc.filter, limit)); !slices.Equal(got, tc.want) {
					t.Errorf("limit %d: got %v, want %v", limit, got, tc.want)
				}
			}
			var scanned []store.Version
			for v, err := range s.Scan(t.Context(), tc.filter) {
				if err != nil {
					t.Fatal(err)
				}
				scanned = append(scanned, v)
			}
			if got := formsOf(scanned); !slices.Equal(got, tc.want) {
				t.Errorf("Scan: got %v, want %v", got, tc.want)
			}
		})
	}
}

// testSpecVersionPaging: with every object held in both forms, pages cover each selected form once,
// in order, whatever the page size.
func testSpecVersionPaging(t *testing.T, s store.Store) {
	c := collection(t, s, "forms-paging")
	var want21, wantBoth []form
	for b := range 4 {
		var objs []*stix.Object
		for i := range 30 {
			id := newID("indicator")
			f20, f21 := indicator20(t, id, b*100+i), indicator(t, id, b*100+i)
			k := key(t, ts(b*100+i))
			if i%3 == 0 {
				objs = append(objs, f21, f20)
				wantBoth = append(wantBoth, form{id, k, "2.1"}, form{id, k, "2.0"})
			} else {
				objs = append(objs, f20, f21)
				wantBoth = append(wantBoth, form{id, k, "2.0"}, form{id, k, "2.1"})
			}
			want21 = append(want21, form{id, k, "2.1"})
		}
		write(t, s, c.ID, objs...)
	}
	for _, scope := range []string{"", c.ID} {
		for _, tc := range []struct {
			name  string
			specs []string
			want  []form
		}{{"default", nil, want21}, {"both", []string{"2.0", "2.1"}, wantBoth}} {
			for _, limit := range []int{1, 7, 60, 119, 120, 121, 1000} {
				t.Run(fmt.Sprintf("collection=%t/%s/limit=%d", scope != "", tc.name, limit), func(t *testing.T) {
					got := formsOf(listAll(t, s, store.Filter{Collection: scope, SpecVersions: tc.specs}, limit))
					if !slices.Equal(got, tc.want) {
						t.Errorf("paged %d forms, want %d; they differ", len(got), len(tc.want))
					}
				})
			}
		}
	}
}
