package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// writeObservables writes one version per list of observables.
func writeObservables(t *testing.T, s *Store, first int, lists ...[]stix.Observable) {
	t.Helper()
	var b store.Batch
	for i, obs := range lists {
		v := testVersion(t, fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", first+i), 1)
		v.Object.Observables = obs
		b.Versions = append(b.Versions, v)
	}
	if _, err := s.Write(t.Context(), b); err != nil {
		t.Fatal(err)
	}
}

func blockLengthsOf(t *testing.T, s *Store) store.BlockLengths {
	t.Helper()
	got, err := s.ObservableBlockLengths(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func sameLengths(got store.BlockLengths, known bool, v4, v6 []int) bool {
	return got.Known == known && slices.Equal(got.IPv4, v4) && slices.Equal(got.IPv6, v6)
}

// exec runs statements on the database file at path through a connection of its own.
func execOn(t *testing.T, path string, queries ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range queries {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func obs4(v string) stix.Observable { return stix.Observable{Kind: stix.ObsIPv4, Value: v} }
func obs6(v string) stix.Observable { return stix.Observable{Kind: stix.ObsIPv6, Value: v} }

// TestBlockLengths: every write adds the lengths of the blocks it stores, and only of blocks; a
// database written before the summary is back-filled when it is opened.
func TestBlockLengths(t *testing.T) {
	open := func(t *testing.T, path string) *Store {
		t.Helper()
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	path := filepath.Join(t.TempDir(), "renkei.db")
	s := open(t, path)
	if got := blockLengthsOf(t, s); !sameLengths(got, true, nil, nil) {
		t.Fatalf("a new store: %+v; want known and empty", got)
	}
	writeObservables(t, s, 0,
		[]stix.Observable{obs4("10.0.0.0/7"), obs4("198.51.100.7"), {Kind: stix.ObsURL, Value: "https://x.example/a/24"}},
		[]stix.Observable{obs6("2001:db8::/93"), obs6("2001:db8::1"), {Kind: stix.ObsDomain, Value: "x.example"}},
		[]stix.Observable{obs4("198.51.100.0/30"), obs4("10.0.0.0/7")},
		nil)
	wantV4, wantV6 := []int{7, 30}, []int{93}
	if got := blockLengthsOf(t, s); !sameLengths(got, true, wantV4, wantV6) {
		t.Fatalf("after a write: %+v; want IPv4 %v, IPv6 %v", got, wantV4, wantV6)
	}
	writeObservables(t, s, 10, []stix.Observable{obs4("192.0.0.0/2")})
	wantV4 = []int{2, 7, 30}
	if got := blockLengthsOf(t, s); !sameLengths(got, true, wantV4, wantV6) {
		t.Fatalf("after a second write: %+v; want IPv4 %v, IPv6 %v", got, wantV4, wantV6)
	}

	for _, tc := range []struct {
		name    string
		queries []string // after emptying the summary, as migration 0005 leaves a database written before it
		v4, v6  []int
	}{
		{"back-filled", nil, wantV4, wantV6},
		// An observables blob that cannot be read may carry any block.
		{"a malformed blob", []string{`UPDATE object_versions SET observables = X'09' || CAST('ipv4-addr' AS BLOB) || X'50' || CAST('/' AS BLOB)
			WHERE vid = (SELECT max(vid) FROM object_versions)`}, everyLength(), everyLength()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			execOn(t, path, append([]string{`DELETE FROM observable_block_lengths`, `DELETE FROM observable_block_lengths_complete`}, tc.queries...)...)
			s = open(t, path)
			if got := blockLengthsOf(t, s); !sameLengths(got, true, tc.v4, tc.v6) {
				t.Errorf("%+v; want IPv4 %v, IPv6 %v", got, tc.v4, tc.v6)
			}
		})
	}
}

// everyLength is 0…128: the lengths a form whose observables cannot be read may carry, of either family.
func everyLength() []int {
	var out []int
	for bits := range 129 {
		out = append(out, bits)
	}
	return out
}

// TestBlockLengthsMigration: migration 0005 marks the summary complete in a database without
// observables, and leaves it to the back-fill in one with observables.
func TestBlockLengthsMigration(t *testing.T) {
	testCompleteMarkMigration(t, 5, "block_lengths", "observable_block_lengths", obs4("198.51.100.7"))
}

// testCompleteMarkMigration runs migration version (named name) again on databases from which its
// table and the table's _complete mark were dropped: one without observables, which the migration
// must mark complete, and one holding obs, which it must leave to the back-fill at Open. Either
// way the table starts empty.
func testCompleteMarkMigration(t *testing.T, version int, name, table string, obs stix.Observable) {
	t.Helper()
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	m := ms[version-1]
	if m.version != version || m.name != name {
		t.Fatalf("migration %d is %d %s", version, m.version, m.name)
	}
	for _, tc := range []struct {
		name     string
		obs      []stix.Observable
		complete bool
	}{
		{"no observables", nil, true},
		{"observables", []stix.Observable{obs}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "renkei.db")
			s, err := Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			writeObservables(t, s, 0, tc.obs)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			execOn(t, path, `DROP TABLE `+table, `DROP TABLE `+table+`_complete`, m.sql)
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var n, rows int
			if err := db.QueryRowContext(t.Context(), `SELECT (SELECT count(*) FROM `+table+`_complete),
				(SELECT count(*) FROM `+table+`)`).Scan(&n, &rows); err != nil {
				t.Fatal(err)
			}
			if (n == 1) != tc.complete || rows != 0 {
				t.Errorf("complete: %d rows, %d in %s; want complete %v and none", n, rows, table, tc.complete)
			}
		})
	}
}
