package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/store"
)

// testGrants: grants are set, replaced and removed per subject, and refused on unknown collections.
func testGrants(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := collection(t, s, "granted")
	set := func(g store.Grant) {
		t.Helper()
		g.Collection = c.Alias
		if err := s.SetGrant(ctx, g); err != nil {
			t.Fatalf("SetGrant(%+v): %v", g, err)
		}
	}
	set(store.Grant{Kind: store.GrantOrg, Subject: "identity--a", Read: true})
	set(store.Grant{Kind: store.GrantUser, Subject: "u1", Read: true, Write: true})
	set(store.Grant{Kind: store.GrantGroup, Subject: "g1", Write: true})
	set(store.Grant{Kind: store.GrantOrg, Subject: "identity--a", Read: true, Write: true}) // replaces
	set(store.Grant{Kind: store.GrantGroup, Subject: "g1"})                                 // removes
	got, err := s.Grants(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Grant{
		{Collection: c.ID, Kind: store.GrantOrg, Subject: "identity--a", Read: true, Write: true},
		{Collection: c.ID, Kind: store.GrantUser, Subject: "u1", Read: true, Write: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Grants = %+v, want %+v", got, want)
	}
	if err := s.SetGrant(ctx, store.Grant{Collection: "nowhere", Kind: store.GrantOrg, Subject: "x", Read: true}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("grant on an unknown collection: %v, want ErrNotFound", err)
	}
	if err := s.SetGrant(ctx, store.Grant{Collection: c.ID, Kind: "robot", Subject: "x", Read: true}); err == nil {
		t.Error("a grant of an unknown kind was accepted")
	}
	if _, err := s.Grants(ctx, "nowhere"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("grants of an unknown collection: %v, want ErrNotFound", err)
	}
}

// testRemoveFromCollection: removal takes the selected forms out of one collection only.
func testRemoveFromCollection(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := collection(t, s, "rm-a"), collection(t, s, "rm-b")
	id, other := newID("indicator"), newID("indicator")
	write(t, s, a.ID, indicator(t, id, 1), indicator(t, id, 2), indicator(t, other, 1))
	write(t, s, b.ID, indicator(t, id, 1))
	n, err := s.RemoveFromCollection(ctx, store.Filter{Collection: a.ID, Versions: store.VersionMatch{Kind: store.VersionsAll}}, id)
	if err != nil || n != 2 {
		t.Fatalf("RemoveFromCollection = %d, %v; want 2", n, err)
	}
	if vs := listAll(t, s, store.Filter{Collection: a.ID, Versions: store.VersionMatch{Kind: store.VersionsAll}}, 10); len(vs) != 1 || vs[0].ID != other {
		t.Errorf("collection a holds %v, want only %s", keysOf(vs), other)
	}
	if vs := listAll(t, s, store.Filter{Collection: b.ID, IDs: []string{id}}, 10); len(vs) != 1 {
		t.Errorf("collection b lost its copy: %v", keysOf(vs))
	}
	if vs, err := s.Versions(ctx, id); err != nil || len(vs) != 2 {
		t.Errorf("the store lost versions: %d, %v", len(vs), err)
	}
	if n, err := s.RemoveFromCollection(ctx, store.Filter{Collection: a.ID}, id); err != nil || n != 0 {
		t.Errorf("removing again = %d, %v; want 0", n, err)
	}
	// A scope that selects nothing removes nothing.
	n, err = s.RemoveFromCollection(ctx, store.Filter{Collection: b.ID, Scope: &store.ReadScope{}}, id)
	if err != nil || n != 0 {
		t.Errorf("removal outside the scope = %d, %v; want 0", n, err)
	}
}

// testStatuses: status resources are kept by id and pruned by age.
func testStatuses(t *testing.T, s store.Store) {
	ctx := t.Context()
	old := time.Now().Add(-48 * time.Hour).Truncate(time.Microsecond).UTC()
	recent := time.Now().Truncate(time.Microsecond).UTC()
	for _, st := range []store.StatusRecord{{ID: "s-old", UserID: "u", CreatedAt: old, Body: []byte(`{"id":"s-old"}`)},
		{ID: "s-new", UserID: "u", CreatedAt: recent, Body: []byte(`{"id":"s-new"}`)}} {
		if err := s.PutStatus(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutStatus(ctx, store.StatusRecord{ID: "s-new", UserID: "v", Body: []byte(`{}`)}); !errors.Is(err, store.ErrExists) {
		t.Errorf("a second status with the same id: %v, want ErrExists", err)
	}
	got, err := s.GetStatus(ctx, "s-new")
	if err != nil || got.UserID != "u" || string(got.Body) != `{"id":"s-new"}` || !got.CreatedAt.Equal(recent) {
		t.Errorf("GetStatus = %+v, %v", got, err)
	}
	if n, err := s.PruneStatuses(ctx, time.Now().Add(-24*time.Hour)); err != nil || n != 1 {
		t.Errorf("PruneStatuses = %d, %v; want 1", n, err)
	}
	if _, err := s.GetStatus(ctx, "s-old"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("pruned status: %v, want ErrNotFound", err)
	}
}
