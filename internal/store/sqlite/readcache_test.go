package sqlite_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
	"github.com/renkei-cti/renkei/internal/store/storetest"
)

// The conformance suites again, with the read cache on: every collection page they read goes
// through it.
func TestConformanceReadCache(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "renkei.db"), sqlite.WithReadCache(1<<20))
	})
}

func TestLabelConformanceReadCache(t *testing.T) {
	storetest.RunLabels(t, func(t *testing.T, l store.Labeler) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "renkei.db"), sqlite.WithLabeler(l), sqlite.WithReadCache(1<<20))
	})
}

// markLabeler labels a form by its marking: unresolved until the marking definition is stored, then
// a cell and a group taken from the definition's name, so that storing a definition relabels the
// forms written before it.
type markLabeler struct{}

func (markLabeler) Label(obj *stix.Object, dir store.LabelDirectory) store.Labeling {
	refs := obj.ObjectMarkingRefs
	if len(refs) == 0 {
		return store.Labeling{Label: store.Label{Cell: 1}}
	}
	def, ok := dir.MarkingDefinition(refs[0])
	if !ok {
		return store.Labeling{Label: store.Label{Cell: store.NoLabelCell}, Unresolved: refs[:1]}
	}
	n := len(def.Raw) // the definition's name changes its length
	l := store.Label{Cell: uint8(2 + n%5)}
	if n%2 == 0 {
		l.Group = "group-x"
	}
	return store.Labeling{Label: l}
}

// TestReadCacheAgreesWithQueries writes, versions, relabels and removes objects through two
// handles on one database file — one with the read cache, one without, so that for the cached one
// half the writes come from another connection as from another process — and checks after every
// step that both return the same pages for random filters, viewers and cursors.
func TestReadCacheAgreesWithQueries(t *testing.T) {
	for _, c := range []struct {
		budget, seed int64
		evicts       bool
	}{{1 << 30, 1, false}, {1 << 30, 2, false}, {1 << 30, 3, false}, {32 << 10, 4, true}, {1, 5, false},
		{8 << 10, 6, true}, {64 << 10, 7, true}} {
		// Everything kept; slabs of 2 KiB, a few forms each, dropped oldest first; none kept (every
		// form read again); slabs of 512 bytes, smaller than a form (a slab of its own each); 4 KiB.
		budget := c.budget
		t.Run(fmt.Sprintf("budget=%d/seed=%d", budget, c.seed), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "renkei.db")
			cached := openAt(t, path, sqlite.WithLabeler(markLabeler{}), sqlite.WithReadCache(budget))
			plain := openAt(t, path, sqlite.WithLabeler(markLabeler{}))
			ctx := t.Context()
			r := rand.New(rand.NewPCG(uint64(c.seed), 7))
			colls := []string{"collection-a", "collection-b"}
			for _, c := range colls {
				if err := plain.CreateCollection(ctx, store.Collection{ID: c, Title: c}); err != nil {
					t.Fatal(err)
				}
			}
			orgs := []string{"identity--00000000-0000-4000-8000-000000000001", "identity--00000000-0000-4000-8000-000000000002",
				"identity--00000000-0000-4000-8000-000000000003"}
			if err := plain.CreateOrganisation(ctx, store.Organisation{ID: orgs[0], Name: "one"}); err != nil {
				t.Fatal(err)
			}
			marks := []string{"marking-definition--00000000-0000-4000-8000-00000000000a",
				"marking-definition--00000000-0000-4000-8000-00000000000b"}
			var ids []string
			objs := map[string]int{} // id -> versions written
			writer := func() *sqlite.Store {
				if r.IntN(2) == 0 {
					return cached
				}
				return plain
			}
			form := func(id string, version int, spec20 bool) store.NewVersion {
				spec := `"spec_version":"2.1",`
				if spec20 {
					spec = ""
				}
				return newVersion(t, fmt.Sprintf(`{"type":%q,%s"id":%q,"created":"2020-01-01T00:00:00.000Z",`+
					`"modified":"2020-01-01T00:00:%02d.000Z","created_by_ref":%q,"object_marking_refs":[%q],"labels":["x"],"name":"n%d"}`,
					strings.Split(id, "--")[0], spec, id, version, orgs[r.IntN(len(orgs))], marks[r.IntN(len(marks))], r.IntN(1000)))
			}
			for step := range 40 {
				w := writer()
				switch op := r.IntN(10); {
				case op < 5: // new objects
					var b store.Batch
					b.Collection = colls[r.IntN(2)]
					for range 1 + r.IntN(20) {
						typ := []string{"tool", "campaign", "intrusion-set"}[r.IntN(3)]
						id := fmt.Sprintf("%s--00000000-0000-4000-8000-%012d", typ, len(ids))
						ids = append(ids, id)
						objs[id] = 1
						b.Versions = append(b.Versions, form(id, 1, false))
					}
					mustWrite(t, w, b)
				case op < 8 && len(ids) > 0: // new versions, some as 2.0 forms, into either collection
					var b store.Batch
					b.Collection = colls[r.IntN(2)]
					for range 1 + r.IntN(5) {
						id := ids[r.IntN(len(ids))]
						v := objs[id]
						if r.IntN(3) > 0 {
							v++
							objs[id] = v
						}
						b.Versions = append(b.Versions, form(id, v, r.IntN(4) == 0))
					}
					mustWrite(t, w, b)
				case op == 8: // a marking definition: relabels the forms that named it
					m := marks[r.IntN(len(marks))]
					raw := fmt.Sprintf(`{"type":"marking-definition","spec_version":"2.1","id":%q,"created":"2020-01-01T00:00:00.000Z",`+
						`"name":%q,"extensions":{"extension-definition--00000000-0000-4000-8000-000000000000":{"extension_type":"property-extension"}}}`,
						m, strings.Repeat("x", 1+step%7))
					mustWrite(t, w, store.Batch{Versions: []store.NewVersion{newVersion(t, raw)}})
				case op == 9 && len(ids) > 0: // removal from a collection, or a new hosted organisation
					if r.IntN(2) == 0 {
						if _, err := w.RemoveFromCollection(ctx, store.Filter{Collection: colls[r.IntN(2)]}, ids[r.IntN(len(ids))]); err != nil {
							t.Fatal(err)
						}
					} else if org := orgs[1+r.IntN(2)]; !hostedOrg(t, plain, org) {
						if err := w.CreateOrganisation(ctx, store.Organisation{ID: org, Name: org[len(org)-1:]}); err != nil {
							t.Fatal(err)
						}
					}
				}
				for range 6 {
					comparePages(t, cached, plain, randomFilter(r, colls, orgs), 1+r.IntN(15))
				}
				if _, _, err := sqlite.CheckReadCache(cached); err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
			}
			kept, dropped, err := sqlite.CheckReadCache(cached)
			if err != nil {
				t.Fatal(err)
			}
			if budget == 1 && kept+dropped > 0 || c.evicts != (dropped > 0) {
				t.Errorf("%d slabs kept, %d dropped: want evictions %t", kept, dropped, c.evicts)
			}
		})
	}
}

func hostedOrg(t *testing.T, s *sqlite.Store, id string) bool {
	t.Helper()
	_, err := s.Organisation(t.Context(), id)
	return err == nil
}

func randomFilter(r *rand.Rand, colls, orgs []string) store.Filter {
	f := store.Filter{Collection: colls[r.IntN(len(colls))]}
	if r.IntN(3) == 0 {
		f.Types = []string{[]string{"tool", "campaign", "intrusion-set"}[r.IntN(3)]}
	}
	if r.IntN(4) > 0 {
		f.Scope = &store.ReadScope{Org: orgs[r.IntN(len(orgs))], Owner: r.Uint64(), LocalOwner: r.Uint64(), RemoteOwner: r.Uint64()}
		if r.IntN(2) == 0 {
			f.Scope.Groups, f.Scope.Group = []string{"group-x"}, r.Uint64()
		}
	}
	if r.IntN(4) == 0 {
		f.AddedAfter = time.Now().Add(-time.Duration(r.IntN(2000)) * time.Millisecond)
	}
	return f
}

// comparePages pages through f on both stores and requires the same versions and cursors.
func comparePages(t *testing.T, cached, plain *sqlite.Store, f store.Filter, limit int) {
	t.Helper()
	var after store.Cursor
	for pages := 0; ; pages++ {
		a, err := cached.List(t.Context(), f, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		b, err := plain.List(t.Context(), f, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		if a.More != b.More || a.Next != b.Next || !slices.EqualFunc(a.Versions, b.Versions, sameVersion) {
			t.Fatalf("filter %+v scope %+v, page %d after %+v:\ncached: more=%t next=%+v %s\nquery:  more=%t next=%+v %s",
				f, f.Scope, pages, after, a.More, a.Next, describe(a.Versions), b.More, b.Next, describe(b.Versions))
		}
		cached.ReusePage(a.Versions) // the next page is built in these
		if !a.More {
			return
		}
		after = a.Next
	}
}

func sameVersion(a, b store.Version) bool {
	return a.ID == b.ID && a.VersionKey == b.VersionKey && a.SpecVersion == b.SpecVersion && a.Label == b.Label &&
		a.Object == b.Object && a.OwnerLocal == b.OwnerLocal && a.DateAdded.Equal(b.DateAdded) && string(a.Raw) == string(b.Raw) &&
		a.Digest == b.Digest && a.Stored.Equal(b.Stored) && a.Revoked == b.Revoked && a.CreatedByRef == b.CreatedByRef
}

func describe(vs []store.Version) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "\n  %s %s %s label=%+v owner=%s local=%t object=%+v", v.ID, v.VersionKey, v.SpecVersion,
			v.Label, v.CreatedByRef, v.OwnerLocal, v.Object)
	}
	return b.String()
}

// TestReadCacheMemo: a form served from the read cache carries a memo word that stays with that
// copy of the form (a later read finds what was noted in it) and starts again at 0 with the copy
// read after a commit; a store without the cache gives none.
func TestReadCacheMemo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "renkei.db")
	cached := openAt(t, path, sqlite.WithReadCache(1<<20))
	plain := openAt(t, path)
	ctx := t.Context()
	if err := plain.CreateCollection(ctx, store.Collection{ID: "memo", Title: "memo"}); err != nil {
		t.Fatal(err)
	}
	tool := func(i int) store.NewVersion {
		return newVersion(t, fmt.Sprintf(`{"type":"tool","spec_version":"2.1","id":"tool--00000000-0000-4000-8000-%012d",`+
			`"created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":"t%d"}`, i, i))
	}
	mustWrite(t, plain, store.Batch{Collection: "memo", Versions: []store.NewVersion{tool(1), tool(2)}})
	list := func(s *sqlite.Store) []store.Version {
		t.Helper()
		p, err := s.List(ctx, store.Filter{Collection: "memo"}, store.Cursor{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		return p.Versions
	}
	for _, v := range list(plain) {
		if v.Memo != nil {
			t.Errorf("%s: a memo word without the read cache", v.ID)
		}
	}
	first := list(cached)
	if len(first) != 2 || first[0].Memo == nil || first[1].Memo == nil {
		t.Fatalf("want 2 forms with memo words, got %d", len(first))
	}
	for _, v := range first {
		if got := v.Memo.Load(); got != 0 {
			t.Errorf("%s: a new copy's memo is %d", v.ID, got)
		}
	}
	first[0].Memo.Store(42)
	again := list(cached)
	if got := again[0].Memo.Load(); got != 42 {
		t.Errorf("the same copy read again: memo %d, want 42", got)
	}
	if got := again[1].Memo.Load(); got != 0 {
		t.Errorf("the other form's memo: %d, want 0", got)
	}
	// A commit by another connection: the forms are read again, with new memo words.
	mustWrite(t, plain, store.Batch{Collection: "memo", Versions: []store.NewVersion{tool(3)}})
	after := list(cached)
	if len(after) != 3 || after[0].ID != first[0].ID {
		t.Fatalf("after the commit: %s", describe(after))
	}
	if got := after[0].Memo.Load(); got != 0 {
		t.Errorf("after a commit the form's memo is %d, want 0 (a new copy)", got)
	}
}

// TestReadCacheSeesEarlierCommits: readers that share one data_version question (the cache asks it
// once for the connections waiting together) still see every commit made before their read began.
func TestReadCacheSeesEarlierCommits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "renkei.db")
	cached := openAt(t, path, sqlite.WithReadCache(1<<20))
	writer := openAt(t, path)
	ctx := t.Context()
	if err := writer.CreateCollection(ctx, store.Collection{ID: "seen", Title: "seen"}); err != nil {
		t.Fatal(err)
	}
	const writes = 60
	var committed atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for {
				want := committed.Load()
				p, err := cached.List(ctx, store.Filter{Collection: "seen"}, store.Cursor{}, writes+1)
				if err != nil {
					errs <- err
					return
				}
				if int64(len(p.Versions)) < want {
					errs <- fmt.Errorf("a read begun after %d commits sees %d objects", want, len(p.Versions))
					return
				}
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}
	for i := range writes {
		v := newVersion(t, fmt.Sprintf(`{"type":"tool","spec_version":"2.1","id":"tool--00000000-0000-4000-8000-%012d",`+
			`"created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","name":"t%d"}`, i, i))
		mustWrite(t, writer, store.Batch{Collection: "seen", Versions: []store.NewVersion{v}})
		committed.Add(1)
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
