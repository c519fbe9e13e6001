package sqlite_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
	"github.com/renkei-cti/renkei/internal/store/storetest"
)

func openAt(t testing.TB, path string, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "renkei.db"))
	})
}

// rawDB opens the file directly, bypassing the store, to inspect or damage it.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func indicator(t testing.TB, modified int, extra string) store.NewVersion {
	t.Helper()
	raw := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%s","created":"2020-01-01T00:00:00.000Z",`+
		`"modified":"2020-01-01T00:00:%02d.000Z","name":"x","pattern":"[ipv4-addr:value = '198.51.100.1']",`+
		`"pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"%s}`, uuid.NewString(), modified, extra)
	return newVersion(t, raw)
}

// vkey is the version key of indicator's modified time.
func vkey(t testing.TB, modified int) string {
	t.Helper()
	ts, err := stix.ParseTimestamp(fmt.Sprintf("2020-01-01T00:00:%02d.000Z", modified))
	if err != nil {
		t.Fatal(err)
	}
	return ts.Key()
}

func newVersion(t testing.TB, raw string) store.NewVersion {
	t.Helper()
	o, err := stix.Decode([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	d, err := stix.Digest(o.Raw)
	if err != nil {
		t.Fatal(err)
	}
	return store.NewVersion{Object: o, Digest: d}
}

func mustWrite(t testing.TB, s store.Store, b store.Batch) []store.Outcome {
	t.Helper()
	out, err := s.Write(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "renkei.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCollection(t.Context(), store.Collection{ID: uuid.NewString(), Alias: "main", Title: "Main"}); err != nil {
		t.Fatal(err)
	}
	nv := indicator(t, 1, "")
	out := mustWrite(t, s, store.Batch{Collection: "main", Versions: []store.NewVersion{nv}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	s2 := openAt(t, path)
	vs, err := s2.Versions(t.Context(), nv.Object.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || !bytes.Equal(vs[0].Raw, nv.Object.Raw) {
		t.Fatalf("after reopening: %d versions", len(vs))
	}
	// date_added goes on increasing after a reopen, even if the clock went back.
	past := func() time.Time { return out[0].DateAdded.Add(-time.Hour) }
	s2.Close()
	s3 := openAt(t, path, sqlite.WithClock(past))
	out2 := mustWrite(t, s3, store.Batch{Collection: "main", Versions: []store.NewVersion{indicator(t, 1, "")}})
	if !out2[0].DateAdded.After(out[0].DateAdded) {
		t.Errorf("date_added %v after a reopen with the clock back, want after %v", out2[0].DateAdded, out[0].DateAdded)
	}
	p, err := s3.List(t.Context(), store.Filter{}, store.Cursor{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Versions) != 2 || !p.Versions[1].Stored.After(p.Versions[0].Stored) {
		t.Errorf("stored times do not increase with the clock back: %v", p.Versions)
	}
	if st, err := s3.Stats(t.Context()); err != nil || st.SchemaVersion != sqlite.SchemaVersion() {
		t.Errorf("schema version %d (%v), want %d", st.SchemaVersion, err, sqlite.SchemaVersion())
	}
}

// TestFrozenClock: with a clock that does not move, date_added and stored times still strictly increase.
func TestFrozenClock(t *testing.T) {
	frozen := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := openAt(t, filepath.Join(t.TempDir(), "renkei.db"), sqlite.WithClock(func() time.Time { return frozen }))
	if err := s.CreateCollection(t.Context(), store.Collection{ID: uuid.NewString(), Alias: "c", Title: "C"}); err != nil {
		t.Fatal(err)
	}
	var added []time.Time
	for range 3 {
		b := store.Batch{Collection: "c"}
		for range 5 {
			b.Versions = append(b.Versions, indicator(t, 1, ""))
		}
		for _, o := range mustWrite(t, s, b) {
			added = append(added, o.DateAdded)
		}
	}
	for i, a := range added {
		if want := frozen.Add(time.Duration(i) * time.Microsecond); !a.Equal(want) {
			t.Errorf("date_added %d = %v, want %v", i, a, want)
		}
	}
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "renkei.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', 0)`,
		sqlite.SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = sqlite.Open(t.Context(), path)
	if !errors.Is(err, sqlite.ErrSchemaTooNew) {
		t.Fatalf("Open of a newer database: %v, want ErrSchemaTooNew", err)
	}
	if want := fmt.Sprintf("schema version %d", sqlite.SchemaVersion()+1); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, path string }{
		{"empty", ""},
		{"missing directory", filepath.Join(dir, "no", "such", "dir", "x.db")},
		{"question mark", filepath.Join(dir, "what?.db")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := sqlite.Open(t.Context(), tc.path); err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

// TestCheckDetects damages a sound database with raw SQL and expects Check to say what is wrong.
func TestCheckDetects(t *testing.T) {
	setup := func(t *testing.T) (*sqlite.Store, *sql.DB, []store.NewVersion) {
		path := filepath.Join(t.TempDir(), "renkei.db")
		s := openAt(t, path)
		if err := s.CreateCollection(t.Context(), store.Collection{ID: uuid.NewString(), Alias: "c", Title: "C"}); err != nil {
			t.Fatal(err)
		}
		vs := []store.NewVersion{indicator(t, 1, ""), indicator(t, 2, ""), indicator(t, 3, "")}
		vs[0].Object.Edges = []stix.Edge{{Source: vs[0].Object.ID, Target: vs[1].Object.ID, Type: "x_refs"}}
		vs[0].Object.Observables = []stix.Observable{{Kind: "ipv4-addr", Value: "198.51.100.1"}}
		mustWrite(t, s, store.Batch{Collection: "c", Versions: vs})
		// A second version of the first object, which becomes its latest.
		v2 := newVersion(t, strings.Replace(string(vs[0].Object.Raw), `"modified":"2020-01-01T00:00:01.000Z"`,
			`"modified":"2020-01-01T00:00:05.000Z"`, 1))
		mustWrite(t, s, store.Batch{Collection: "c", Versions: []store.NewVersion{v2}})
		// The STIX 2.0 form of the second object's version, beside its 2.1 form.
		f20 := newVersion(t, strings.NewReplacer(`"spec_version":"2.1",`, "", `"pattern_type":"stix"`, `"labels":["malicious-activity"]`).
			Replace(string(vs[1].Object.Raw)))
		if f20.Object.SpecVersion != stix.SpecVersion20 {
			t.Fatalf("test is broken: the 2.0 form decodes as STIX %s", f20.Object.SpecVersion)
		}
		if out := mustWrite(t, s, store.Batch{Versions: []store.NewVersion{f20}}); out[0].Status != store.StatusAdded {
			t.Fatalf("the 2.0 form: %v %v", out[0].Status, out[0].Err)
		}
		for _, action := range []string{"first", "second", "third"} {
			if _, err := s.AppendAudit(t.Context(), store.AuditRecord{Actor: "cli:test", Action: action}); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := s.Check(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 0 || rep.VersionsChecked != 5 {
			t.Fatalf("before damage: %d versions checked, problems %v", rep.VersionsChecked, rep.Problems)
		}
		return s, rawDB(t, s.Path()), vs
	}
	cases := []struct {
		name   string
		damage string // SQL; ?1 is the first object's id, ?2 the second's (held in STIX 2.0 and 2.1)
		want   string // in one of the problems
	}{
		{"no latest version", `UPDATE object_versions SET latest = 0 WHERE id = ?1`, "no version is marked latest"},
		{"latest on an older version", `UPDATE object_versions SET latest = 1 - latest WHERE id = ?1`, "the greatest stored is"},
		{"two latest versions", `UPDATE object_versions SET latest = 1 WHERE id = ?1`, "are both marked latest"},
		{"version row deleted", `DELETE FROM object_versions WHERE id = ?1 AND latest`, "id_keys: key"},
		{"object count wrong", `UPDATE object_counts SET objects = objects + 1`, "4 objects and 0 revoked recorded, 3 and 0 stored"},
		{"revoked count wrong", `UPDATE object_counts SET revoked = 1`, "3 objects and 1 revoked recorded, 3 and 0 stored"},
		{"membership of a missing version", `INSERT INTO collection_objects VALUES ((SELECT cid FROM collections), 1, 999)`,
			"version row 999 added at 1 µs to collection row 1: the version is missing"},
		{"membership of a missing collection", `INSERT INTO collection_objects VALUES (7, 1, 1)`, "collection row 7 is missing"},
		{"date_added past the collection's last", `UPDATE collections SET last_date_added = 1`, "later than its recorded last"},
		{"raw bytes replaced", `UPDATE object_versions SET raw = CAST('{"type":"indicator","id":"indicator--00000000-0000-4000-8000-000000000000"}' AS BLOB)
			WHERE id = ?1 AND latest`, "stored bytes have id"},
		{"raw bytes not JSON", `UPDATE object_versions SET raw = x'7b2274797065223a' WHERE id = ?1 AND latest`, "not JSON"},
		{"version key wrong", `UPDATE object_versions SET version_key = '1999' WHERE id = ?1 AND latest`, "version key should be"},
		{"id hash wrong", `UPDATE object_versions SET id_hash = id_hash + 1 WHERE id = ?1`, "wrong id hash"},
		{"id key missing", `DELETE FROM id_keys WHERE vid = (SELECT vid FROM object_versions WHERE id = ?1 AND latest)`, "lacks its key"},
		{"edges unreadable", `UPDATE object_versions SET edges = x'05' WHERE edges IS NOT NULL`, "edges: malformed"},
		{"edge key orphan", `INSERT INTO edge_keys VALUES (5, 999 << 21)`, "edge_keys: key 5 2095054848: version row 999 is missing"},
		{"edge key missing", `DELETE FROM edge_keys`, "edge_keys: version row 1"},
		{"edge key wrong", `UPDATE edge_keys SET hash = hash + 1`, "has no such key"},
		{"observable key orphan", `INSERT INTO observable_keys VALUES (5, 999 << 20)`, "observable_keys: key 5 1047527424: version row 999 is missing"},
		{"observable key wrong", `UPDATE observable_keys SET hash = 7`, "has no such key"},
		{"stored time out of order", `UPDATE object_versions SET stored_at = 1 WHERE vid = (SELECT max(vid) FROM object_versions)`, "not after the previous version"},
		{"schema version missing", `DELETE FROM schema_migrations`, "schema: version 0"},
		{"audit record changed", `DROP TRIGGER audit_log_no_update; UPDATE audit_log SET detail = 'nothing happened' WHERE seq = 2`,
			"audit_log: record 2: its stored bytes are not the canonical form"},
		{"audit record removed", `DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 2`,
			"audit_log: record 3 follows record 1: records 2 to 2 are missing"},
		{"object label stale", `UPDATE object_versions SET obj_cell = obj_cell + 1 WHERE id = ?1 AND NOT latest`, "object label (cell"},
		{"latest on the 2.0 form", `UPDATE object_versions SET latest = 1 - latest WHERE id = ?2`,
			`version "` + vkey(t, 2) + `" (STIX 2.0) is marked latest but the greatest stored is "` + vkey(t, 2) + `" (STIX 2.1)`},
		{"both forms marked the latest spec version", `UPDATE object_versions SET spec_latest = 1 WHERE id = ?2`, "are both marked the latest spec version"},
		{"no form marked the latest spec version", `UPDATE object_versions SET spec_latest = 0 WHERE id = ?2`, "no form of version"},
		{"the 2.0 form marked the latest spec version", `UPDATE object_versions SET spec_latest = 1 - spec_latest WHERE id = ?2`,
			"(STIX 2.0) is marked the latest spec version but the greatest stored is"},
		{"spec version unlike the bytes", `UPDATE object_versions SET spec_version = '2.0' WHERE id = ?1`, `spec version should be "2.1"`},
		{"a form stored twice", `INSERT INTO object_versions (vid, id_hash, latest, spec_latest, revoked, version_key, id, type,
			spec_version, created, modified, created_by_ref, confidence, digest, stored_at, edges, observables,
			cell, grp, obj_cell, obj_grp, obj_owner, raw)
			SELECT vid + 100, id_hash, 0, 0, revoked, version_key, id, type, spec_version, created, modified, created_by_ref,
			confidence, digest, stored_at + 1000000000, edges, observables, cell, grp, obj_cell, obj_grp, obj_owner, raw FROM object_versions WHERE id = ?2 AND spec_version = '2.0';
			INSERT INTO id_keys SELECT id_hash, vid FROM object_versions WHERE vid > 100`, "(STIX 2.0) is stored more than once"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, db, vs := setup(t)
			conn, err := db.Conn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			for _, stmt := range strings.Split(tc.damage, ";") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				// Statements refuse the parameters they do not use.
				var err error
				for _, args := range [][]any{{vs[0].Object.ID, vs[1].Object.ID}, {vs[0].Object.ID}, nil} {
					if _, err = conn.ExecContext(t.Context(), stmt, args...); err == nil {
						break
					}
				}
				if err != nil {
					t.Fatalf("damage %q: %v", stmt, err)
				}
			}
			rep, err := s.Check(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, p := range rep.Problems {
				found = found || strings.Contains(p, tc.want)
			}
			if !found {
				t.Errorf("Check did not report %q; it reported %q", tc.want, rep.Problems)
			}
		})
	}
}

// TestTwoStoresOneFile: two stores on the same file (as the CLI and the server are) see each other's writes.
func TestTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "renkei.db")
	a := openAt(t, path)
	b := openAt(t, path)
	if err := a.CreateCollection(t.Context(), store.Collection{ID: uuid.NewString(), Alias: "shared", Title: "Shared"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Collection(t.Context(), "shared"); err != nil {
		t.Fatalf("the other store does not see the collection: %v", err)
	}
	for round := range 5 {
		writer, reader := a, b
		if round%2 == 1 {
			writer, reader = b, a
		}
		nv := indicator(t, 1, "")
		mustWrite(t, writer, store.Batch{Collection: "shared", Versions: []store.NewVersion{nv}})
		vs, err := reader.Versions(t.Context(), nv.Object.ID)
		if err != nil || len(vs) != 1 {
			t.Fatalf("round %d: the other store reads %d versions, %v", round, len(vs), err)
		}
		p, err := reader.List(t.Context(), store.Filter{Collection: "shared"}, store.Cursor{}, 100)
		if err != nil || len(p.Versions) != round+1 {
			t.Fatalf("round %d: the other store lists %d versions, %v", round, len(p.Versions), err)
		}
	}
	// Both write at once: the writes serialise and all land, with date_added still increasing.
	done := make(chan error, 2)
	for _, s := range []*sqlite.Store{a, b} {
		batches := make([]store.Batch, 10)
		for i := range batches {
			batches[i] = store.Batch{Collection: "shared", Versions: []store.NewVersion{indicator(t, 1, ""), indicator(t, 2, "")}}
		}
		go func() {
			for _, bt := range batches {
				if _, err := s.Write(context.WithoutCancel(t.Context()), bt); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	p, err := a.List(t.Context(), store.Filter{Collection: "shared"}, store.Cursor{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Versions) != 5+40 {
		t.Fatalf("%d versions after concurrent writes from two stores, want %d", len(p.Versions), 45)
	}
	for i := 1; i < len(p.Versions); i++ {
		if !p.Versions[i].DateAdded.After(p.Versions[i-1].DateAdded) {
			t.Fatalf("date_added does not increase at %d", i)
		}
	}
	rep, err := b.Check(t.Context())
	if err != nil || len(rep.Problems) > 0 {
		t.Errorf("Check: %v %v", rep.Problems, err)
	}
}

func TestListLimits(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "renkei.db"))
	if _, err := s.List(t.Context(), store.Filter{}, store.Cursor{}, 0); err == nil {
		t.Error("List with limit 0 succeeded")
	}
	if _, err := s.List(t.Context(), store.Filter{IDs: make([]string, sqlite.MaxFilterValues+1)}, store.Cursor{}, 10); err == nil {
		t.Error("List with too many ids succeeded")
	}
	if _, err := s.Write(t.Context(), store.Batch{Versions: []store.NewVersion{{}}}); err == nil {
		t.Error("Write of a version without an object succeeded")
	}
}

// TestDurableFile: what Write acknowledged is in the database file and its WAL, readable by a fresh
// connection that never saw the store.
func TestDurableFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "renkei.db")
	s := openAt(t, path)
	nv := indicator(t, 1, "")
	mustWrite(t, s, store.Batch{Versions: []store.NewVersion{nv}})
	db := rawDB(t, path)
	var mode, raw string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode %q (%v), want wal", mode, err)
	}
	if err := db.QueryRow(`SELECT raw FROM object_versions`).Scan(&raw); err != nil || raw != string(nv.Object.Raw) {
		t.Errorf("raw from a fresh connection: %q (%v)", raw, err)
	}
}

// The tests below run the test binary again as a second process (the CLI beside a server, or a
// process killed in the middle of writing). childEnv names the database and what the child does.
const childEnv = "RENKEI_SQLITE_TEST_CHILD"

// TestMain lets the test binary act as the child process.
func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(child(spec))
	}
	os.Exit(m.Run())
}

// child runs "write:<path>:<n>" (write n objects in one batch and exit), "count:<path>" (print the
// number of versions in the collection "shared") or "forever:<path>" (write batches until killed,
// printing the ids of each batch once Write has returned).
func child(spec string) int {
	ctx := context.Background()
	parts := strings.Split(spec, "|")
	s, err := sqlite.Open(ctx, parts[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer s.Close()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	switch parts[0] {
	case "write":
		n, err := strconv.Atoi(parts[2])
		if err != nil {
			return fail(err)
		}
		b := store.Batch{Collection: "shared"}
		for range n {
			b.Versions = append(b.Versions, indicator(nopTB{}, 1, ""))
		}
		if _, err := s.Write(ctx, b); err != nil {
			return fail(err)
		}
	case "count":
		p, err := s.List(ctx, store.Filter{Collection: "shared"}, store.Cursor{}, sqlite.MaxPageSize)
		if err != nil {
			return fail(err)
		}
		fmt.Println(len(p.Versions))
	case "forever":
		for {
			b := store.Batch{Collection: "shared"}
			for range 200 {
				b.Versions = append(b.Versions, indicator(nopTB{}, 1, ""))
			}
			if _, err := s.Write(ctx, b); err != nil {
				return fail(err)
			}
			for _, v := range b.Versions {
				fmt.Println(v.Object.ID)
			}
			fmt.Println("acked")
		}
	}
	return 0
}

// nopTB lets the child use the test helpers outside a test; a helper's failure panics.
type nopTB struct{ testing.TB }

func (nopTB) Helper()                      {}
func (nopTB) Fatal(args ...any)            { panic(fmt.Sprint(args...)) }
func (nopTB) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }

func runChild(t *testing.T, spec string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+spec)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("child %q: %v: %s", spec, err, ee.Stderr)
		}
		t.Fatalf("child %q: %v", spec, err)
	}
	return strings.TrimSpace(string(out))
}

// TestOtherProcess: a store in this process and one in another process see each other's writes.
func TestOtherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "renkei.db")
	s := openAt(t, path)
	if err := s.CreateCollection(t.Context(), store.Collection{ID: uuid.NewString(), Alias: "shared", Title: "Shared"}); err != nil {
		t.Fatal(err)
	}
	runChild(t, "write|"+path+"|30")
	p, err := s.List(t.Context(), store.Filter{Collection: "shared"}, store.Cursor{}, 100)
	if err != nil || len(p.Versions) != 30 {
		t.Fatalf("this process sees %d versions written by the other (%v), want 30", len(p.Versions), err)
	}
	mustWrite(t, s, store.Batch{Collection: "shared", Versions: []store.NewVersion{indicator(t, 1, ""), indicator(t, 1, "")}})
	if got := runChild(t, "count|"+path); got != "32" {
		t.Fatalf("the other process counts %s versions, want 32", got)
	}
}

// TestKilledWriter: a process killed (SIGKILL) while writing loses nothing it was told was written,
// and leaves a sound database.
func TestKilledWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "renkei.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCollection(t.Context(), store.Collection{ID: uuid.NewString(), Alias: "shared", Title: "Shared"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=forever|"+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked, pending []string
	sc := bufio.NewScanner(stdout)
	for batches := 0; batches < 5 && sc.Scan(); {
		if line := sc.Text(); line == "acked" {
			acked, pending = append(acked, pending...), nil
			batches++
		} else {
			pending = append(pending, line)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: the error says so
	if len(acked) < 5*200 {
		t.Fatalf("the child acknowledged %d objects before it was killed; stderr: %s", len(acked), stderr.String())
	}

	s2 := openAt(t, path)
	for _, id := range acked {
		if _, err := s2.Versions(t.Context(), id); err != nil {
			t.Fatalf("acknowledged object %s is lost: %v", id, err)
		}
	}
	rep, err := s2.Check(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 {
		t.Errorf("after the kill, Check reports %q", rep.Problems)
	}
	if rep.VersionsChecked < int64(len(acked)) {
		t.Errorf("Check saw %d versions, fewer than the %d acknowledged", rep.VersionsChecked, len(acked))
	}
}

func TestLabelConformance(t *testing.T) {
	storetest.RunLabels(t, func(t *testing.T, l store.Labeler) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "renkei.db"), sqlite.WithLabeler(l))
	})
}
