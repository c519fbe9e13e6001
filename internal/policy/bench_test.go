package policy

import (
	"testing"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
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
