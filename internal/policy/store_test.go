package policy

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
)

// TestStoreScopeAgreesWithCan stores objects with every TLP marking, every distribution marking
// (fixed ids, a trusted sharing group, an untrusted one, an unknown marking, none) and every kind of
// owner in a real store labelled by Labeler, then checks for viewers of every role, locality and
// group membership that the store's query narrowed by StoreScope returns exactly the objects that
// Can allows on the label Classify gives with the store's knowledge: the label kept in the store,
// the SQL scope and the decision all agree.
func TestStoreScopeAgreesWithCan(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "renkei.db"), sqlite.WithLabeler(Labeler{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, o := range []store.Organisation{{ID: orgViewer, Name: "viewer"}, {ID: orgLocal, Name: "local"},
		{ID: orgRemote, Name: "remote", Remote: true}} {
		if err := st.CreateOrganisation(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	// Group G is managed here by orgLocal; group H is not managed here (its marking is untrusted).
	if err := st.CreateGroup(ctx, store.Group{ID: groupG, Name: "G", OwnerOrg: orgLocal, Members: []string{orgViewer}}); err != nil {
		t.Fatal(err)
	}
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	mG, err := SharingGroupMarking(SharingGroup{ID: groupG, Name: "G", Owner: orgLocal, Revision: 1, Members: []string{orgViewer}, Created: created})
	if err != nil {
		t.Fatal(err)
	}
	mH, err := SharingGroupMarking(SharingGroup{ID: groupH, Name: "H", Owner: orgRemote, Revision: 3, Created: created})
	if err != nil {
		t.Fatal(err)
	}
	raws := [][]byte{mG, mH}
	for _, d := range Definitions() {
		raws = append(raws, []byte(d.JSON))
	}
	dists := []string{"", DistributionMarkingID(DistOrganisation), DistributionMarkingID(DistCommunity),
		DistributionMarkingID(DistFederation), DistributionMarkingID(DistAll), markingG, markingH, unknownID}
	n := 0
	for _, tlp := range tlpChoices {
		for _, dist := range dists {
			for _, owner := range []string{orgViewer, orgLocal, orgRemote, ""} {
				n++
				id := fmt.Sprintf("indicator--0e000000-0000-4000-8000-%012d", n)
				raws = append(raws, []byte(sdo("indicator", id[len("indicator--"):], owner, refs(tlp.id, dist),
					`"name":"x","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"`)))
			}
		}
	}
	var b store.Batch
	objs := map[string]*stix.Object{}
	for _, raw := range raws {
		o, err := stix.Decode(raw)
		if err != nil {
			t.Fatalf("%v\n%s", err, raw)
		}
		objs[o.ID] = o
		b.Versions = append(b.Versions, store.NewVersion{Object: o, Digest: sha256.Sum256(raw)})
	}
	if _, err := st.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	// What the node knows, as a Directory for Classify.
	dir := testDir{local: map[string]bool{orgViewer: true, orgLocal: true}, groups: map[string]string{markingG: groupG}}
	checked, partial := 0, 0
	for _, v := range allViewers() {
		var want []string
		for id, o := range objs {
			if Can(v, ActionRead, Classify(o, dir, DefaultTLP)).Allow {
				want = append(want, id)
			}
		}
		var got []string
		for ver, err := range st.Scan(ctx, store.Filter{Scope: StoreScope(v)}) {
			if err != nil {
				t.Fatal(err)
			}
			if !CanVersion(v, ActionRead, &ver).Allow {
				t.Errorf("viewer %+v: the store returned %s, which CanVersion denies", v, ver.ID)
			}
			got = append(got, ver.ID)
		}
		if len(want) > 0 && len(want) < len(objs) {
			partial++
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("viewer %+v: store scope returned %d objects, Can allows %d\n got %v\nwant %v", v, len(got), len(want), got, want)
		}
		checked += len(objs)
	}
	if partial != len(allViewers()) {
		t.Errorf("only %d of %d viewers read some but not all objects: the test does not discriminate", partial, len(allViewers()))
	}
	t.Logf("%d (viewer, object) pairs checked", checked)
}
