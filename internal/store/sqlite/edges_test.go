package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

func TestBlobsRoundTrip(t *testing.T) {
	long := strings.Repeat("x", 300) // a length that takes two bytes of uvarint
	edgeCases := []struct {
		name  string
		edges []stix.Edge
	}{
		{"none", nil},
		{"self", []stix.Edge{{Type: "object_refs", Target: "report--1"}}},
		{"relationship", []stix.Edge{{Source: "indicator--1", Type: "indicates", Target: "malware--2"}}},
		{"several", []stix.Edge{{Type: "a", Target: "b"}, {Source: long, Type: "ü", Target: ""}, {Type: "c", Target: long}}},
	}
	for _, tc := range edgeCases {
		t.Run("edges/"+tc.name, func(t *testing.T) {
			b := encodeEdges(tc.edges)
			if len(tc.edges) == 0 && b != nil {
				t.Fatalf("no edges encode to %x, want nil", b)
			}
			got, err := decodeEdges(b)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.edges) {
				t.Errorf("got %v, want %v", got, tc.edges)
			}
		})
	}
	obsCases := [][]stix.Observable{nil, {{Kind: "ipv4-addr", Value: "198.51.100.1"}}, {{Kind: "url", Value: long}, {Kind: "k", Value: ""}}}
	for i, obs := range obsCases {
		t.Run(fmt.Sprintf("observables/%d", i), func(t *testing.T) {
			got, err := decodeObservables(encodeObservables(obs))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, obs) {
				t.Errorf("got %v, want %v", got, obs)
			}
		})
	}
	full := encodeEdges(edgeCases[3].edges)
	for _, bad := range [][]byte{full[:len(full)-1], {0x05, 'a'}, {0xff}, {0x01, 'a', 0x01}} {
		if _, err := decodeEdges(bad); err == nil {
			t.Errorf("decodeEdges(%x) succeeded", bad)
		}
	}
}

func TestGraphEdges(t *testing.T) {
	o := &stix.Object{ID: "indicator--1", Edges: []stix.Edge{
		{Source: "indicator--1", Target: "identity--1", Type: "created_by_ref"},
		{Source: "indicator--1", Target: "marking-definition--1", Type: "object_marking_refs"},
		{Source: "indicator--1", Target: "malware--1", Type: "x_refs"},
		{Source: "indicator--1", Target: "malware--1", Type: "x_refs"},
		{Source: "campaign--1", Target: "malware--1", Type: "uses"},
		{Source: "indicator--1", Target: "marking-definition--1", Type: "marking_ref"},
	}}
	want := []stix.Edge{
		{Target: "malware--1", Type: "x_refs"},
		{Source: "campaign--1", Target: "malware--1", Type: "uses"},
		{Target: "marking-definition--1", Type: "marking_ref"},
	}
	if got := graphEdges(o); !slices.Equal(got, want) {
		t.Errorf("graphEdges = %v, want %v", got, want)
	}
}

// TestHashCollisions plants keys whose hash is right but which point at other objects' entries, as a
// hash collision would, and expects every read and write to compare the text and ignore them.
func TestHashCollisions(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "renkei.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ip1 := stix.Observable{Kind: "ipv4-addr", Value: "198.51.100.1"}
	ip2 := stix.Observable{Kind: "ipv4-addr", Value: "198.51.100.2"}
	a := testVersion(t, "indicator--00000000-0000-4000-8000-00000000000a", 1)
	b := testVersion(t, "indicator--00000000-0000-4000-8000-00000000000b", 1)
	a.Object.Edges = []stix.Edge{{Source: a.Object.ID, Target: "malware--00000000-0000-4000-8000-000000000001", Type: "x_refs"}}
	b.Object.Edges = []stix.Edge{{Source: b.Object.ID, Target: "malware--00000000-0000-4000-8000-000000000002", Type: "x_refs"}}
	a.Object.Observables, b.Object.Observables = []stix.Observable{ip1}, []stix.Observable{ip2}
	if _, err := s.Write(ctx, store.Batch{Versions: []store.NewVersion{a, b}}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var vidB int64
	if err := db.QueryRowContext(ctx, `SELECT vid FROM object_versions WHERE id = ?`, b.Object.ID).Scan(&vidB); err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		table string
		k     key
	}{
		{"id_keys", key{idHash(a.Object.ID), vidB}},
		{"edge_keys", key{idHash(a.Object.Edges[0].Target), edgeRef(vidB, 0, false)}},
		{"observable_keys", key{fnv64(ip1.Kind, ip1.Value, true), obsRef(vidB, 0)}},
	} {
		ref := "ref"
		if k.table == "id_keys" {
			ref = "vid"
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO `+k.table+` (hash, `+ref+`) VALUES (?, ?)`, k.k.hash, k.k.ref); err != nil {
			t.Fatal(err)
		}
	}

	vs, err := s.Versions(ctx, a.Object.ID)
	if err != nil || len(vs) != 1 || vs[0].ID != a.Object.ID {
		t.Errorf("Versions(a) = %d versions (%v), want a's one version", len(vs), err)
	}
	p, err := s.List(ctx, store.Filter{IDs: []string{a.Object.ID}, Versions: store.VersionMatch{Kind: store.VersionsAll}}, store.Cursor{}, 10)
	if err != nil || len(p.Versions) != 1 || p.Versions[0].ID != a.Object.ID {
		t.Errorf("List(ids: a) = %d versions (%v), want a's one version", len(p.Versions), err)
	}
	edges, err := s.Related(ctx, a.Object.Edges[0].Target)
	if want := []stix.Edge{a.Object.Edges[0]}; err != nil || !slices.Equal(edges, want) {
		t.Errorf("Related = %v, %v; want %v", edges, err, want)
	}
	obs, err := s.ObservableVersions(ctx, ip1, nil, 10)
	if err != nil || len(obs) != 1 || obs[0].ID != a.Object.ID {
		t.Errorf("ObservableVersions = %d versions (%v); want only a's", len(obs), err)
	}
	// A new version of a: b's version, under a's hash, must not be taken for one of a's.
	a2 := testVersion(t, a.Object.ID, 2)
	out, err := s.Write(ctx, store.Batch{Versions: []store.NewVersion{a2, b}})
	if err != nil || out[0].Status != store.StatusAdded || out[1].Status != store.StatusDuplicate {
		t.Fatalf("writing a again: %v, %v", out, err)
	}
	for id, want := range map[string]string{a.Object.ID: a2.Object.Modified.Key(), b.Object.ID: b.Object.Modified.Key()} {
		p, err := s.List(ctx, store.Filter{IDs: []string{id}}, store.Cursor{}, 10)
		if err != nil || len(p.Versions) != 1 || p.Versions[0].VersionKey != want {
			t.Errorf("latest of %s: %d versions (%v), want version %s alone", id, len(p.Versions), err, want)
		}
	}
	// Check names each planted key.
	rep, err := s.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"id_keys", "edge_keys", "observable_keys"} {
		if !slices.ContainsFunc(rep.Problems, func(p string) bool { return strings.HasPrefix(p, table+": key") }) {
			t.Errorf("Check does not name the planted key of %s: %q", table, rep.Problems)
		}
	}
}

func TestWriteTooManyEdges(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "renkei.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	nv := testVersion(t, "indicator--00000000-0000-4000-8000-00000000000a", 1)
	nv.Object.Edges = make([]stix.Edge, maxRefs+1)
	if _, err := s.Write(t.Context(), store.Batch{Versions: []store.NewVersion{nv}}); err == nil ||
		!strings.Contains(err.Error(), "more than the limit") {
		t.Errorf("Write of a version with %d edges: %v, want a limit error", maxRefs+1, err)
	}
}

func testVersion(t *testing.T, id string, modified int) store.NewVersion {
	t.Helper()
	raw := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":"2020-01-01T00:00:00.000Z",`+
		`"modified":"2020-01-01T00:00:%02d.000Z","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix",`+
		`"valid_from":"2020-01-01T00:00:00Z"}`, id, modified)
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
