package sqlite

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// smallReads makes the bulk reads work in tiny steps, so that a small store crosses every page,
// chunk and flush boundary.
func smallReads(t *testing.T) {
	chunk, keys, rows, bytes := obsChunk, sharedKeysPage, sharedRowsPage, spillBytes
	obsChunk, sharedKeysPage, sharedRowsPage, spillBytes = 7, 5, 11, 1000
	t.Cleanup(func() { obsChunk, sharedKeysPage, sharedRowsPage, spillBytes = chunk, keys, rows, bytes })
}

// obsStore writes objects carrying values from a small pool: some objects get a second version
// with other values (the first version's values must then not count), one value is carried by
// many objects. It returns the store and the pool.
func obsStore(t *testing.T, seed uint64) (*Store, []stix.Observable) {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "renkei.db"), WithLabeler(idLabeler{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := rand.New(rand.NewPCG(seed, 1))
	var pool []stix.Observable
	for i := range 40 {
		pool = append(pool, stix.Observable{Kind: stix.ObsIPv4, Value: fmt.Sprintf("198.51.100.%d", i)})
	}
	pool = append(pool, stix.Observable{Kind: stix.ObsDomain, Value: "hub.example"})
	draw := func() []stix.Observable {
		var obs []stix.Observable
		for range 1 + r.IntN(3) {
			o := pool[r.IntN(len(pool)-1)]
			if !slices.Contains(obs, o) {
				obs = append(obs, o)
			}
		}
		if r.IntN(3) == 0 {
			obs = append(obs, pool[len(pool)-1])
		}
		return obs
	}
	for batch := range 3 {
		var b store.Batch
		for i := range 30 {
			id := fmt.Sprintf("indicator--00000000-0000-4000-8000-%06d%06d", batch, i)
			v := testVersion(t, id, 1)
			v.Object.Observables = draw()
			b.Versions = append(b.Versions, v)
			if r.IntN(4) == 0 {
				v2 := testVersion(t, id, 2)
				v2.Object.Observables = draw()
				b.Versions = append(b.Versions, v2)
			}
		}
		if _, err := s.Write(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	return s, pool
}

// idLabeler labels a form by the last digits of its id, so that rows carry different labels.
type idLabeler struct{}

func (idLabeler) Label(obj *stix.Object, _ store.LabelDirectory) store.Labeling {
	n := int(obj.ID[len(obj.ID)-1]-'0') + 10*int(obj.ID[len(obj.ID)-2]-'0')
	l := store.Labeling{Label: store.Label{Cell: uint8(n % 60)}}
	if n%3 == 0 {
		l.Group = fmt.Sprintf("group-%d", n%7)
	}
	return l
}

func ids(vs []store.Version) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}

// TestLookupObservables: the bulk lookup answers, for each value, what ObservableVersions answers
// for it alone, at every limit, with asked values repeated and values nobody carries.
func TestLookupObservables(t *testing.T) {
	smallReads(t)
	s, pool := obsStore(t, 1)
	asked := append(slices.Clone(pool), stix.Observable{Kind: stix.ObsIPv4, Value: "203.0.113.1"}, pool[3], pool[len(pool)-1])
	for _, limit := range []int{1, 2, 5, 1000} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			got, err := s.LookupObservables(t.Context(), asked, nil, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(asked) {
				t.Fatalf("%d answers for %d values", len(got), len(asked))
			}
			nonEmpty := 0
			for i, o := range asked {
				want, err := s.ObservableVersions(t.Context(), o, nil, limit)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids(got[i]), ids(want)) {
					t.Errorf("%v: %v, want %v", o, ids(got[i]), ids(want))
				} else if !reflect.DeepEqual(got[i], want) && len(want) > 0 {
					t.Errorf("%v: versions read differently:\n%+v\nwant\n%+v", o, got[i], want)
				}
				for _, v := range got[i] {
					if v.Raw != nil || v.Stored.IsZero() || v.VersionKey == "" {
						t.Errorf("%v: version %s read incompletely or with its bytes", o, v.ID)
					}
				}
				if len(want) > 0 {
					nonEmpty++
				}
			}
			if nonEmpty < len(pool)/2 {
				t.Errorf("only %d of %d values found: the test store is too sparse", nonEmpty, len(pool))
			}
		})
	}
	if _, err := s.LookupObservables(t.Context(), pool, nil, 0); err == nil {
		t.Error("limit 0 accepted")
	}
}

// TestSharedObservables: one pass yields exactly the values carried by two latest forms or more,
// with their count and first forms, as ObservableVersions finds them one by one.
func TestSharedObservables(t *testing.T) {
	smallReads(t)
	s, pool := obsStore(t, 2)
	for _, limit := range []int{2, 3, 1000} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			want := map[stix.Observable][]string{}
			counts := map[stix.Observable]int{}
			byID := map[string]store.Version{}
			for _, o := range pool {
				vs, err := s.ObservableVersions(t.Context(), o, nil, 1000)
				if err != nil {
					t.Fatal(err)
				}
				if len(vs) >= 2 {
					counts[o] = len(vs)
					want[o] = ids(vs[:min(limit, len(vs))])
				}
				for _, v := range vs {
					byID[v.ID] = v
				}
			}
			got := map[stix.Observable][]string{}
			for g, err := range s.SharedObservables(t.Context(), nil, limit) {
				if err != nil {
					t.Fatal(err)
				}
				if _, dup := got[g.Observable]; dup {
					t.Errorf("%v yielded twice", g.Observable)
				}
				got[g.Observable] = ids(g.Versions)
				for _, v := range g.Versions {
					// What SharedObservables promises of a version: all but its bytes, digest and timestamps.
					w := byID[v.ID]
					w.Raw, w.Digest, w.Created, w.Modified, w.VersionKey = nil, [32]byte{}, "", "", ""
					if !reflect.DeepEqual(v, w) {
						t.Errorf("%v: version read differently:\n%+v\nwant\n%+v", g.Observable, v, w)
					}
				}
				if g.Count != counts[g.Observable] {
					t.Errorf("%v: count %d, want %d", g.Observable, g.Count, counts[g.Observable])
				}
			}
			if len(want) < 10 {
				t.Fatalf("only %d shared values: the test store is too sparse", len(want))
			}
			for o, w := range want {
				if !slices.Equal(got[o], w) {
					t.Errorf("%v: %v, want %v", o, got[o], w)
				}
			}
			for o := range got {
				if _, ok := want[o]; !ok {
					t.Errorf("%v yielded, but not shared", o)
				}
			}
		})
	}
}

// TestObservableCollisions: a key planted under one value's hash but pointing at another value
// (what a hash collision looks like) is never taken for the value.
func TestObservableCollisions(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "renkei.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ip1 := stix.Observable{Kind: "ipv4-addr", Value: "198.51.100.1"}
	ip2 := stix.Observable{Kind: "ipv4-addr", Value: "198.51.100.2"}
	var b store.Batch
	for i, o := range []stix.Observable{ip1, ip2, ip2} {
		v := testVersion(t, fmt.Sprintf("indicator--00000000-0000-4000-8000-00000000000%d", i), 1)
		v.Object.Observables = []stix.Observable{o}
		b.Versions = append(b.Versions, v)
	}
	if _, err := s.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// ip1's hash, pointing at the second object's ip2: ip1 now has two keys, ip2 two real ones.
	if _, err := db.ExecContext(ctx, `INSERT INTO observable_keys (hash, ref)
		SELECT ?, vid << 20 FROM object_versions WHERE id LIKE '%1'`, fnv64(ip1.Kind, ip1.Value, true)); err != nil {
		t.Fatal(err)
	}
	got, err := s.LookupObservables(ctx, []stix.Observable{ip1, ip2}, nil, 10)
	if err != nil || len(got[0]) != 1 || !strings.HasSuffix(got[0][0].ID, "0") || len(got[1]) != 2 {
		t.Errorf("LookupObservables = %v, %v; want object 0 for ip1, objects 1 and 2 for ip2", got, err)
	}
	var shared []stix.Observable
	for g, err := range s.SharedObservables(ctx, nil, 10) {
		if err != nil {
			t.Fatal(err)
		}
		shared = append(shared, g.Observable)
		if g.Observable != ip2 || g.Count != 2 || len(g.Versions) != 2 {
			t.Errorf("group %v: count %d, %d versions; want ip2 alone, with 2", g.Observable, g.Count, len(g.Versions))
		}
	}
	if len(shared) != 1 {
		t.Errorf("shared %v, want ip2 alone", shared)
	}
}
