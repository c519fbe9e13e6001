package policy

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
)

// benchViewer belongs to eight sharing groups; the label's group is the last one, so the group
// check scans them all.
func benchViewer() Viewer {
	v := Viewer{UserID: "6b000000-0000-4000-8000-000000000001", Role: store.RoleAnalyst, Org: orgViewer, Node: "n1", Local: true}
	for i := range 8 {
		v.Groups = append(v.Groups, "6a000000-0000-4000-8000-00000000000"+string(rune('0'+i)))
	}
	return v
}

var benchLabels = []struct {
	name string
	a    Action
	l    Label
}{
	{"read-own", ActionRead, Label{TLP: stix.TLPRed, Distribution: DistOrganisation, Owner: orgViewer, OwnerLocal: true}},
	{"read-group-last", ActionRead, Label{TLP: stix.TLPAmber, Distribution: DistGroup, Group: "6a000000-0000-4000-8000-000000000007", Owner: orgRemote}},
	{"read-community", ActionRead, Label{TLP: stix.TLPGreen, Distribution: DistCommunity, Owner: orgLocal, OwnerLocal: true}},
	{"read-denied-red", ActionRead, Label{TLP: stix.TLPRed, Distribution: DistAll, Owner: orgLocal, OwnerLocal: true}},
	{"write-not-owner", ActionWrite, Label{TLP: stix.TLPClear, Distribution: DistAll, Owner: orgLocal, OwnerLocal: true}},
}

var sink Decision

// BenchmarkCan measures one decision; the target is under 100 ns and no allocation.
func BenchmarkCan(b *testing.B) {
	v := benchViewer()
	for _, bl := range benchLabels {
		b.Run(bl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = Can(v, bl.a, bl.l)
			}
		})
	}
}

// BenchmarkCanPage filters a 100-object page of mixed labels, as a TAXII list would.
func BenchmarkCanPage(b *testing.B) {
	v := benchViewer()
	page := make([]Label, 100)
	for i := range page {
		page[i] = benchLabels[i%len(benchLabels)].l
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := range page {
			if Can(v, ActionRead, page[i]).Allow {
				n++
			}
		}
	}
	if n == 0 {
		b.Fatal("nothing allowed")
	}
}

func BenchmarkClassify(b *testing.B) {
	obj, err := stix.Decode([]byte(kinds[0].build(orgLocal, stix.TLP2Amber, markingG)))
	if err != nil {
		b.Fatal(err)
	}
	var dir Directory = testDir{local: map[string]bool{orgLocal: true}, groups: map[string]string{markingG: groupG}}
	b.ReportAllocs()
	var l Label
	for b.Loop() {
		l = Classify(obj, dir, stix.TLPAmber)
	}
	if l.Distribution != DistGroup {
		b.Fatalf("label %+v", l)
	}
}

func BenchmarkScope(b *testing.B) {
	v := benchViewer()
	b.ReportAllocs()
	for b.Loop() {
		_ = Scope(v)
	}
}

// TestCanDoesNotAllocate: the decision sits on every hot path.
func TestCanDoesNotAllocate(t *testing.T) {
	v := benchViewer()
	for _, bl := range benchLabels {
		if n := testing.AllocsPerRun(200, func() { sink = Can(v, bl.a, bl.l) }); n != 0 {
			t.Errorf("%s: %v allocations per decision", bl.name, n)
		}
	}
	obj, err := stix.Decode([]byte(kinds[0].build(orgLocal, stix.TLP2Amber, markingG)))
	if err != nil {
		t.Fatal(err)
	}
	var dir Directory = testDir{local: map[string]bool{orgLocal: true}, groups: map[string]string{markingG: groupG}}
	if n := testing.AllocsPerRun(200, func() { _ = Classify(obj, dir, stix.TLPAmber) }); n != 0 {
		t.Errorf("Classify: %v allocations", n)
	}
}

// BenchmarkPageFilter measures what the policy adds to reading one 100-object TAXII page from a real
// store of 10,000 objects the viewer may all read: "unscoped" is the store's query alone; "policy"
// adds the viewer's scope to the query and CanVersion on every form returned, as internal/taxii does.
// The page's content is the same in both, so the difference is the cost of the policy.
func BenchmarkPageFilter(b *testing.B) {
	ctx := b.Context()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "renkei.db"), sqlite.WithLabeler(Labeler{}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	for _, o := range []store.Organisation{{ID: orgViewer, Name: "viewer"}, {ID: orgLocal, Name: "local"}} {
		if err := st.CreateOrganisation(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	if err := st.CreateCollection(ctx, store.Collection{ID: "6c000000-0000-4000-8000-000000000001", Alias: "c", Title: "c"}); err != nil {
		b.Fatal(err)
	}
	var batch store.Batch
	batch.Collection = "c"
	for i := range 10000 {
		owner := []string{orgViewer, orgLocal}[i%2]
		raw := []byte(sdo("indicator", fmt.Sprintf("0e000000-0000-4000-8000-%012d", i), owner, refs(stix.TLP2Green),
			`"name":"x","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"`))
		o, err := stix.Decode(raw)
		if err != nil {
			b.Fatal(err)
		}
		batch.Versions = append(batch.Versions, store.NewVersion{Object: o, Digest: sha256.Sum256(raw)})
	}
	if _, err := st.Write(ctx, batch); err != nil {
		b.Fatal(err)
	}
	v := benchViewer()
	v.Org = orgViewer
	page := func(b *testing.B, scope *store.ReadScope, check bool) {
		after := store.Cursor{}
		for b.Loop() {
			p, err := st.List(ctx, store.Filter{Collection: "c", Scope: scope}, after, 100)
			if err != nil {
				b.Fatal(err)
			}
			if len(p.Versions) != 100 && p.More {
				b.Fatalf("a page of %d", len(p.Versions))
			}
			if check {
				for i := range p.Versions {
					if !CanVersion(v, ActionRead, &p.Versions[i]).Allow {
						b.Fatal("denied")
					}
				}
			}
			after = p.Next
			if !p.More {
				after = store.Cursor{}
			}
		}
	}
	b.Run("unscoped", func(b *testing.B) { page(b, nil, false) })
	b.Run("policy", func(b *testing.B) { page(b, StoreScope(v), true) })
}
