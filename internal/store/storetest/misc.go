package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// withEdges sets the edges and observables of a decoded object, so the tests do not depend on what
// the decoder extracts.
func withEdges(o *stix.Object, edges []stix.Edge, obs ...stix.Observable) *stix.Object {
	o.Edges, o.Observables = edges, obs
	return o
}

func edge(source, target, typ string) stix.Edge {
	return stix.Edge{Source: source, Target: target, Type: typ}
}

func sortEdges(es []stix.Edge) []stix.Edge {
	es = slices.Clone(es)
	sort.Slice(es, func(i, j int) bool {
		return fmt.Sprint(es[i]) < fmt.Sprint(es[j])
	})
	return es
}

// testRelated: Related walks the edges of the latest versions only, from and to an id, and leaves out
// the hub edges (created_by_ref, object_marking_refs).
func testRelated(t *testing.T, s store.Store) {
	ind, mal, idn, rel, other := newID("indicator"), newID("malware"), newID("identity"), newID("relationship"), newID("attack-pattern")
	tool, tlp := newID("tool"), newID("marking-definition")
	relJSON := `{"type":"relationship","spec_version":"2.1","id":"` + rel + `","created":"` + ts(0) + `","modified":"` + ts(1) +
		`","relationship_type":"indicates","source_ref":"` + ind + `","target_ref":"` + mal + `"}`
	write(t, s, "",
		withEdges(indicator(t, ind, 1), []stix.Edge{edge(ind, idn, "created_by_ref"), edge(ind, other, "x_refs")}),
		withEdges(decode(t, relJSON), []stix.Edge{edge(mal, idn, "should-not-matter")}), // replaced below
	)
	// A newer relationship version carries the edge that counts; the older one's edges are ignored.
	relV2 := `{"type":"relationship","spec_version":"2.1","id":"` + rel + `","created":"` + ts(0) + `","modified":"` + ts(2) +
		`","relationship_type":"indicates","source_ref":"` + ind + `","target_ref":"` + mal + `"}`
	write(t, s, "", withEdges(decode(t, relV2), []stix.Edge{edge(ind, mal, "indicates"), edge(rel, idn, "created_by_ref")}))
	// A newer indicator version drops its x_refs edge and gains others.
	write(t, s, "", withEdges(indicator(t, ind, 2), []stix.Edge{
		edge(ind, idn, "created_by_ref"), edge(ind, tlp, "object_marking_refs"), edge(ind, tool, "x_tool_refs"),
		edge(ind, tool, "x_tool_refs"), // listed twice, reported once
	}))

	cases := []struct {
		id   string
		want []stix.Edge
	}{
		{ind, []stix.Edge{edge(ind, mal, "indicates"), edge(ind, tool, "x_tool_refs")}},
		{mal, []stix.Edge{edge(ind, mal, "indicates")}},
		{tool, []stix.Edge{edge(ind, tool, "x_tool_refs")}},
		{rel, nil},   // a relationship's own edge is not from the relationship
		{idn, nil},   // created_by_ref is a hub edge
		{tlp, nil},   // so is object_marking_refs
		{other, nil}, // only the older version referred to it
		{newID("campaign"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			got, err := s.Related(t.Context(), tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(sortEdges(got), sortEdges(tc.want)) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// testObservableVersions: ObservableVersions finds the objects whose latest version carries a value.
func testObservableVersions(t *testing.T, s store.Store) {
	a, b, c := newID("indicator"), newID("indicator"), newID("ipv4-addr")
	ip1 := stix.Observable{Kind: "ipv4-addr", Value: "198.51.100.1"}
	ip2 := stix.Observable{Kind: "ipv4-addr", Value: "198.51.100.2"}
	dom := stix.Observable{Kind: "domain-name", Value: "example.com"}
	write(t, s, "",
		withEdges(indicator(t, a, 1), nil, ip1, dom),
		withEdges(indicator(t, b, 1), nil, ip1),
		withEdges(ipv4(t, c, "198.51.100.1"), nil, ip1),
	)
	write(t, s, "", withEdges(indicator(t, b, 2), nil, ip2)) // b moves on to ip2
	cases := []struct {
		o    stix.Observable
		want []string
	}{
		{ip1, []string{a, c}},
		{ip2, []string{b}},
		{dom, []string{a}},
		{stix.Observable{Kind: "domain-name", Value: "198.51.100.1"}, nil}, // the kind matters
		{stix.Observable{Kind: "ipv4-addr", Value: "198.51.100.9"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.o.Kind+"="+tc.o.Value, func(t *testing.T) {
			vs, err := s.ObservableVersions(t.Context(), tc.o, nil, 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range vs {
				got = append(got, v.ID)
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

var when = time.Date(2024, 3, 4, 5, 6, 7, 891011000, time.UTC) // microsecond precision: stores keep microseconds

func testOrganisations(t *testing.T, s store.Store) {
	ctx := t.Context()
	orgs := []store.Organisation{
		{ID: newID("identity"), Name: "Beta CERT", CreatedAt: when},
		{ID: newID("identity"), Name: "Alpha CERT", CreatedAt: when.Add(time.Hour)},
	}
	for _, o := range orgs {
		if err := s.CreateOrganisation(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateOrganisation(ctx, store.Organisation{ID: orgs[0].ID, Name: "Again"}); !errors.Is(err, store.ErrExists) {
		t.Errorf("same id again: %v, want ErrExists", err)
	}
	got, err := s.Organisation(ctx, orgs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != orgs[0].ID || got.Name != orgs[0].Name || !got.CreatedAt.Equal(when) {
		t.Errorf("Organisation = %+v, want %+v", got, orgs[0])
	}
	if _, err := s.Organisation(ctx, newID("identity")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown organisation: %v, want ErrNotFound", err)
	}
	list, err := s.ListOrganisations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "Alpha CERT" || list[1].Name != "Beta CERT" {
		t.Errorf("ListOrganisations = %+v, want both, by name", list)
	}
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	org := store.Organisation{ID: newID("identity"), Name: "CERT"}
	if err := s.CreateOrganisation(ctx, org); err != nil {
		t.Fatal(err)
	}
	u := store.User{ID: uuid.NewString(), Name: "alice", OrgID: org.ID, Role: store.RoleAnalyst, CreatedAt: when}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	v := store.User{ID: uuid.NewString(), Name: "bob", OrgID: org.ID, Role: store.RoleReader, Disabled: true, CreatedAt: when}
	if err := s.CreateUser(ctx, v); err != nil {
		t.Fatal(err)
	}
	for name, fn := range map[string]func() (store.User, error){
		"by name": func() (store.User, error) { return s.UserByName(ctx, "alice") },
		"by id":   func() (store.User, error) { return s.User(ctx, u.ID) },
	} {
		got, err := fn()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.ID != u.ID || got.Name != u.Name || got.OrgID != u.OrgID || got.Role != u.Role || got.Disabled || !got.CreatedAt.Equal(when) {
			t.Errorf("%s: %+v, want %+v", name, got, u)
		}
	}
	bad := []struct {
		name string
		u    store.User
		want error
	}{
		{"same name", store.User{ID: uuid.NewString(), Name: "alice", OrgID: org.ID, Role: store.RoleReader}, store.ErrExists},
		{"same id", store.User{ID: u.ID, Name: "carol", OrgID: org.ID, Role: store.RoleReader}, store.ErrExists},
		{"unknown organisation", store.User{ID: uuid.NewString(), Name: "dave", OrgID: newID("identity"), Role: store.RoleReader}, store.ErrNotFound},
	}
	for _, tc := range bad {
		if err := s.CreateUser(ctx, tc.u); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := s.UserByName(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
	if _, err := s.User(ctx, uuid.NewString()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user id: %v, want ErrNotFound", err)
	}
	list, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "alice" || list[1].Name != "bob" || !list[1].Disabled {
		t.Errorf("ListUsers = %+v", list)
	}
}

func testTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	org := store.Organisation{ID: newID("identity"), Name: "CERT"}
	u := store.User{ID: uuid.NewString(), Name: "alice", OrgID: org.ID, Role: store.RoleAdmin}
	if err := s.CreateOrganisation(ctx, org); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	tok := store.Token{ID: uuid.NewString(), UserID: u.ID, Hash: sha256.Sum256([]byte("secret-1")), CreatedAt: when,
		ExpiresAt: when.Add(24 * time.Hour)}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	tok2 := store.Token{ID: uuid.NewString(), UserID: u.ID, Hash: sha256.Sum256([]byte("secret-2")), CreatedAt: when, RevokedAt: when.Add(time.Minute)}
	if err := s.CreateToken(ctx, tok2); err != nil {
		t.Fatal(err)
	}
	for _, want := range []store.Token{tok, tok2} {
		got, err := s.TokenByHash(ctx, want.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != want.ID || got.UserID != want.UserID || got.Hash != want.Hash || !got.CreatedAt.Equal(want.CreatedAt) ||
			!got.ExpiresAt.Equal(want.ExpiresAt) || !got.RevokedAt.Equal(want.RevokedAt) ||
			got.ExpiresAt.IsZero() != want.ExpiresAt.IsZero() || got.RevokedAt.IsZero() != want.RevokedAt.IsZero() {
			t.Errorf("TokenByHash = %+v, want %+v", got, want)
		}
	}
	if _, err := s.TokenByHash(ctx, sha256.Sum256([]byte("guess"))); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown hash: %v, want ErrNotFound", err)
	}
	dup := store.Token{ID: uuid.NewString(), UserID: u.ID, Hash: tok.Hash}
	if err := s.CreateToken(ctx, dup); !errors.Is(err, store.ErrExists) {
		t.Errorf("same hash again: %v, want ErrExists", err)
	}
	orphan := store.Token{ID: uuid.NewString(), UserID: uuid.NewString(), Hash: sha256.Sum256([]byte("x"))}
	if err := s.CreateToken(ctx, orphan); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token of an unknown user: %v, want ErrNotFound", err)
	}
}

func testNode(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.NodeInfo(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("NodeInfo before InitNode: %v, want ErrNotFound", err)
	}
	n := store.NodeInfo{ID: uuid.NewString(), OwnerOrg: newID("identity"), CreatedAt: when}
	if err := s.InitNode(ctx, n); err != nil {
		t.Fatal(err)
	}
	got, err := s.NodeInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != n.ID || got.OwnerOrg != n.OwnerOrg || !got.CreatedAt.Equal(when) {
		t.Errorf("NodeInfo = %+v, want %+v", got, n)
	}
	if err := s.InitNode(ctx, store.NodeInfo{ID: uuid.NewString(), OwnerOrg: n.OwnerOrg}); !errors.Is(err, store.ErrInitialized) {
		t.Errorf("second InitNode: %v, want ErrInitialized", err)
	}
	if got, err := s.NodeInfo(ctx); err != nil || got.ID != n.ID {
		t.Errorf("after the second InitNode: %+v, %v; want the first node", got, err)
	}
}

// testStats: the counts match what was written.
func testStats(t *testing.T, s store.Store) {
	ctx := t.Context()
	c1, c2 := collection(t, s, "s1"), collection(t, s, "s2")
	ind, mal, ip := newID("indicator"), newID("malware"), newID("ipv4-addr")
	// Repeated edges and observables of one version count once; with many edges too.
	rep := newID("report")
	var many []stix.Edge
	for i := range 30 {
		many = append(many, edge(rep, fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i%20), "object_refs"))
	}
	write(t, s, "", withEdges(decode(t, `{"type":"report","spec_version":"2.1","id":"`+rep+`","created":"`+ts(0)+
		`","modified":"`+ts(0)+`","name":"r","published":"`+ts(0)+`","object_refs":["`+ind+`"]}`), many))
	write(t, s, c1.ID,
		withEdges(indicator(t, ind, 1), []stix.Edge{edge(ind, mal, "x_refs"), edge(ind, ip, "x_refs"), edge(ind, mal, "x_refs")},
			stix.Observable{Kind: "ipv4-addr", Value: "198.51.100.4"}, stix.Observable{Kind: "ipv4-addr", Value: "198.51.100.4"}),
		withEdges(indicator(t, ind, 2, `"revoked":true`), []stix.Edge{edge(ind, mal, "x_refs")}),
		withEdges(ipv4(t, ip, "198.51.100.4"), nil, stix.Observable{Kind: "ipv4-addr", Value: "198.51.100.4"}),
	)
	write(t, s, c2.ID,
		withEdges(decode(t, `{"type":"malware","spec_version":"2.1","id":"`+mal+`","created":"`+ts(0)+`","modified":"`+ts(0)+`","name":"m","is_family":true}`), nil),
		withEdges(ipv4(t, ip, "198.51.100.4"), nil), // a duplicate joining c2
		withEdges(indicator(t, ind, 3), nil),        // rejected: revoked
	)
	org := store.Organisation{ID: newID("identity"), Name: "CERT"}
	if err := s.CreateOrganisation(ctx, org); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, store.User{ID: uuid.NewString(), Name: "u", OrgID: org.ID, Role: store.RoleReader}); err != nil {
		t.Fatal(err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Stats{
		Objects: 4, Versions: 5, Revoked: 1, Collections: 2, Memberships: 5, Relationships: 23, Observables: 2,
		Organisations: 1, Users: 1, ByType: map[string]int64{"indicator": 1, "malware": 1, "ipv4-addr": 1, "report": 1},
	}
	got := st
	got.Bytes, got.SchemaVersion = 0, 0
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Stats:\n got %+v\nwant %+v", got, want)
	}
	if st.Bytes <= 0 || st.SchemaVersion <= 0 {
		t.Errorf("Stats: %d bytes, schema version %d; want both positive", st.Bytes, st.SchemaVersion)
	}
}

// testCheckClean: a store used in every way has no integrity problem.
func testCheckClean(t *testing.T, s store.Store) {
	c := collection(t, s, "check")
	ind, ip := newID("indicator"), newID("ipv4-addr")
	write(t, s, c.ID,
		withEdges(indicator(t, ind, 1), []stix.Edge{edge(ind, ip, "x_refs")}, stix.Observable{Kind: "ipv4-addr", Value: "198.51.100.5"}),
		withEdges(indicator(t, ind, 3, `"revoked":true`), nil),
		ipv4(t, ip, "198.51.100.5"))
	write(t, s, "", indicator(t, ind, 2), indicator(t, ind, 4), ipv4(t, ip, "198.51.100.5"))
	write(t, s, c.ID, indicator(t, ind, 2))
	rep, err := s.Check(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 0 {
		t.Errorf("Check found problems in a sound store:\n%v", rep.Problems)
	}
	if rep.VersionsChecked != 4 {
		t.Errorf("Check looked at %d versions, want 4", rep.VersionsChecked)
	}
}

// testConcurrent: writers and readers at once; every write lands and reads see consistent pages.
func testConcurrent(t *testing.T, s store.Store) {
	c := collection(t, s, "concurrent")
	const writers, nBatches, per = 3, 5, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers+2)
	// Objects are built here: the test helpers may not fail the test from another goroutine.
	batches := make([][]store.Batch, writers)
	for w := range writers {
		for b := range nBatches {
			objs := make([]*stix.Object, per)
			for i := range objs {
				objs[i] = indicator(t, newID("indicator"), w*100+b)
			}
			batches[w] = append(batches[w], batch(t, c.ID, objs...))
		}
	}
	for w := range writers {
		wg.Go(func() {
			for _, b := range batches[w] {
				out, err := s.Write(t.Context(), b)
				if err != nil {
					errs <- err
					return
				}
				for _, o := range out {
					if o.Status != store.StatusAdded {
						errs <- fmt.Errorf("status %v: %v", o.Status, o.Err)
						return
					}
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 20 {
				var last time.Time
				for v, err := range s.Scan(t.Context(), store.Filter{Collection: c.ID}) {
					if err != nil {
						errs <- err
						return
					}
					if !v.DateAdded.After(last) {
						errs <- fmt.Errorf("date_added %v after %v while writing", v.DateAdded, last)
						return
					}
					last = v.DateAdded
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(listAll(t, s, store.Filter{Collection: c.ID}, 1000)); n != writers*nBatches*per {
		t.Errorf("%d versions in the collection, want %d", n, writers*nBatches*per)
	}
}
