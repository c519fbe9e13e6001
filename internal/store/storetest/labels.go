package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// testLabeler is a Labeler for the conformance suite, independent of the real policy: the cell is
// the object's confidence (mod 46); a marking definition among object_marking_refs that the store
// holds makes the label's group that marking's id, one it does not hold is unresolved and leaves
// cell 0.
type testLabeler struct{}

func (testLabeler) Label(obj *stix.Object, dir store.LabelDirectory) store.Labeling {
	var l store.Labeling
	l.Cell = uint8(max(obj.Confidence, 0) % 46)
	for _, m := range obj.ObjectMarkingRefs {
		if _, ok := dir.MarkingDefinition(m); ok {
			l.Group = m
		} else {
			l.Unresolved = append(l.Unresolved, m)
		}
	}
	if len(l.Unresolved) > 0 {
		l.Cell, l.Group = 0, ""
	}
	return l
}

// RunLabels runs the label conformance suite: open returns a new, empty store that labels with the
// given Labeler.
func RunLabels(t *testing.T, open func(t *testing.T, l store.Labeler) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"StoredAndRead", testLabelStored},
		{"ObjectLabelFollowsLatest", testObjectLabel},
		{"PendingMarking", testPendingMarking},
		{"ScopeMatchesExpression", testScopeExpression},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t, testLabeler{})) })
	}
}

// labelled builds an indicator whose testLabeler cell is cell, created by owner.
func labelled(t testing.TB, id string, modified int, owner string, cell int, markings ...string) *stix.Object {
	extra := []string{fmt.Sprintf(`"confidence":%d`, cell)}
	if owner != "" {
		extra = append(extra, fmt.Sprintf(`"created_by_ref":%q`, owner))
	}
	if len(markings) > 0 {
		extra = append(extra, fmt.Sprintf(`"object_marking_refs":[%q]`, markings[0]))
	}
	return indicator(t, id, modified, extra...)
}

func markingDef(t testing.TB, id string) *stix.Object {
	return decode(t, fmt.Sprintf(`{"type":"marking-definition","spec_version":"2.1","id":%q,"created":%q,
		"extensions":{"extension-definition--b890d513-2e40-4813-b681-25ba88bc4d30":{"extension_type":"property-extension"}}}`, id, ts(0)))
}

func onlyVersion(t *testing.T, s store.Store, id string) store.Version {
	t.Helper()
	vs, err := s.Versions(t.Context(), id)
	if err != nil || len(vs) != 1 {
		t.Fatalf("Versions(%s) = %d, %v; want one", id, len(vs), err)
	}
	return vs[0]
}

func testLabelStored(t *testing.T, s store.Store) {
	ctx := t.Context()
	local, remote := newID("identity"), newID("identity")
	for _, o := range []store.Organisation{{ID: local, Name: "here"}, {ID: remote, Name: "there", Remote: true}} {
		if err := s.CreateOrganisation(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	a, b, c := newID("indicator"), newID("indicator"), newID("indicator")
	write(t, s, "", labelled(t, a, 1, local, 17), labelled(t, b, 1, remote, 42), labelled(t, c, 1, "", 5))
	for _, tc := range []struct {
		id    string
		cell  uint8
		owner string
		local bool
	}{{a, 17, local, true}, {b, 42, remote, false}, {c, 5, "", false}} {
		v := onlyVersion(t, s, tc.id)
		want := store.Version{Label: store.Label{Cell: tc.cell}, OwnerLocal: tc.local,
			Object: store.ObjectLabel{Label: store.Label{Cell: tc.cell}, Owner: tc.owner, OwnerLocal: tc.local}}
		if v.Label != want.Label || v.OwnerLocal != want.OwnerLocal || v.Object != want.Object {
			t.Errorf("%s: label %+v local %v object %+v; want %+v %v %+v", tc.id, v.Label, v.OwnerLocal, v.Object,
				want.Label, want.OwnerLocal, want.Object)
		}
	}
}

func testObjectLabel(t *testing.T, s store.Store) {
	owner := newID("identity")
	id := newID("indicator")
	write(t, s, "", labelled(t, id, 2, owner, 9))
	write(t, s, "", labelled(t, id, 1, owner, 3)) // an older version arrives later: the object label stays
	vs, err := s.Versions(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.Object.Cell != 9 || v.Object.Owner != owner {
			t.Errorf("version %s: object label %+v, want cell 9 of %s", v.Modified, v.Object, owner)
		}
	}
	write(t, s, "", labelled(t, id, 3, owner, 30)) // a new latest version moves every form's object label
	vs, err = s.Versions(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var own []uint8
	for _, v := range vs {
		own = append(own, v.Label.Cell)
		if v.Object.Cell != 30 {
			t.Errorf("version %s: object cell %d, want 30", v.Modified, v.Object.Cell)
		}
	}
	if !slices.Equal(own, []uint8{3, 9, 30}) {
		t.Errorf("own cells %v, want [3 9 30]", own)
	}
	// A scope that allows cell 9 but not 30 reads no version of the object, not even version 2.
	sc := &store.ReadScope{Org: owner, Owner: 1<<3 | 1<<9}
	if got := listAll(t, s, store.Filter{Scope: sc, Versions: store.VersionMatch{Kind: store.VersionsAll}}, 10); len(got) != 0 {
		t.Errorf("scope without the latest label read %d versions, want 0", len(got))
	}
	sc.Owner |= 1 << 30
	if got := listAll(t, s, store.Filter{Scope: sc, Versions: store.VersionMatch{Kind: store.VersionsAll}}, 10); len(got) != 3 {
		t.Errorf("scope with every label read %d versions, want 3", len(got))
	}
}

func testPendingMarking(t *testing.T, s store.Store) {
	owner := newID("identity")
	m := "marking-definition--" + newID("x")[3:]
	id, older := newID("indicator"), newID("indicator")
	write(t, s, "", labelled(t, older, 1, owner, 12, m), labelled(t, id, 1, owner, 20, m))
	write(t, s, "", labelled(t, id, 2, owner, 21)) // the latest form of id needs no marking
	if v := onlyVersion(t, s, older); v.Label.Cell != 0 || v.Object.Cell != 0 {
		t.Fatalf("before the marking arrives: %+v / %+v, want cell 0", v.Label, v.Object)
	}
	write(t, s, "", markingDef(t, m))
	v := onlyVersion(t, s, older)
	want := store.Label{Cell: 12, Group: m}
	if v.Label != want || v.Object.Label != want {
		t.Errorf("after the marking arrived: %+v / %+v, want %+v for both", v.Label, v.Object.Label, want)
	}
	vs, err := s.Versions(t.Context(), id)
	if err != nil || len(vs) != 2 {
		t.Fatalf("Versions = %d, %v", len(vs), err)
	}
	if vs[0].Label != (store.Label{Cell: 20, Group: m}) || vs[0].Object.Cell != 21 || vs[1].Object.Cell != 21 {
		t.Errorf("relabelled older version %+v, object labels %+v %+v; want cell 20 in %s, object 21", vs[0].Label,
			vs[0].Object, vs[1].Object, m)
	}
	// A marking in the same batch as the objects it marks resolves at once.
	m2 := "marking-definition--" + newID("x")[3:]
	third := newID("indicator")
	write(t, s, "", labelled(t, third, 1, owner, 7, m2), markingDef(t, m2))
	if v := onlyVersion(t, s, third); v.Label != (store.Label{Cell: 7, Group: m2}) {
		t.Errorf("marking in the same batch: %+v", v.Label)
	}
}

// testScopeExpression writes objects with every mix of owner (the viewer's organisation, another
// hosted here, one hosted elsewhere, none), cell and group, and checks that List with a scope returns
// exactly the objects the ReadScope expression selects, evaluated here in Go.
func testScopeExpression(t *testing.T, s store.Store) {
	ctx := t.Context()
	me, peerOrg, farOrg := newID("identity"), newID("identity"), newID("identity")
	for _, o := range []store.Organisation{{ID: me, Name: "me"}, {ID: peerOrg, Name: "local"}, {ID: farOrg, Name: "far", Remote: true}} {
		if err := s.CreateOrganisation(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	g1 := "marking-definition--" + newID("x")[3:]
	g2 := "marking-definition--" + newID("x")[3:]
	write(t, s, "", markingDef(t, g1), markingDef(t, g2))
	type obj struct {
		owner string
		local bool
		cell  uint8
		group string
	}
	rng := rand.New(rand.NewPCG(1, 2))
	objs := map[string]obj{}
	var batchObjs []*stix.Object
	for i := range 300 {
		o := obj{owner: []string{me, peerOrg, farOrg, ""}[i%4], cell: uint8(rng.IntN(46))}
		o.local = o.owner == me || o.owner == peerOrg
		id := newID("indicator")
		var marks []string
		switch rng.IntN(3) {
		case 1:
			o.group, marks = g1, []string{g1}
		case 2:
			o.group, marks = g2, []string{g2}
		}
		objs[id] = o
		batchObjs = append(batchObjs, labelled(t, id, 1, o.owner, int(o.cell), marks...))
	}
	write(t, s, "", batchObjs...)
	for trial := range 20 {
		sc := store.ReadScope{Org: me, Owner: rng.Uint64() >> 18, Group: rng.Uint64() >> 18,
			LocalOwner: rng.Uint64() >> 18, RemoteOwner: rng.Uint64() >> 18}
		if trial%2 == 0 {
			sc.Groups = []string{g1}
		}
		has := func(m uint64, c uint8) bool { return m>>c&1 == 1 }
		var want []string
		for id, o := range objs {
			sel := o.owner == me && has(sc.Owner, o.cell) ||
				o.group != "" && slices.Contains(sc.Groups, o.group) && has(sc.Group, o.cell) ||
				o.owner != me && o.local && has(sc.LocalOwner, o.cell) ||
				o.owner != me && !o.local && has(sc.RemoteOwner, o.cell)
			if sel {
				want = append(want, id)
			}
		}
		var got []string
		for _, v := range listAll(t, s, store.Filter{Scope: &sc, Types: []string{"indicator"}}, 37) {
			got = append(got, v.ID)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d: scope %+v selected %d objects, want %d", trial, sc, len(got), len(want))
		}
	}
	if got := listAll(t, s, store.Filter{Scope: &store.ReadScope{}}, 10); len(got) != 0 {
		t.Errorf("the zero scope selected %d versions", len(got))
	}
}
