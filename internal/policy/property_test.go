package policy

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// allViewers lists viewers over every role, locality and group membership, of orgViewer.
func allViewers() []Viewer {
	var vs []Viewer
	for _, role := range roles {
		for _, local := range []bool{true, false} {
			for _, groups := range [][]string{nil, {groupG}, {groupH, groupG}} {
				vs = append(vs, Viewer{UserID: "u", Role: role, Org: orgViewer, Local: local, Groups: groups})
			}
		}
	}
	return vs
}

// allLabels lists every normal label over TLP × distribution × group × owner × owner locality.
func allLabels() []Label {
	var ls []Label
	for t := stix.TLPClear; t <= stix.TLPRed; t++ {
		for d := DistOrganisation; d <= DistAll; d++ {
			groups := []string{""}
			if d == DistGroup {
				groups = []string{groupG, groupH}
			}
			for _, g := range groups {
				for _, owner := range []string{orgViewer, orgLocal, orgRemote, ""} {
					for _, ol := range []bool{true, false} {
						if owner == "" && ol {
							continue
						}
						ls = append(ls, Label{TLP: t, Distribution: d, Group: g, Owner: owner, OwnerLocal: ol})
					}
				}
			}
		}
	}
	return ls
}

// implies reports a violation when a is allowed and b is not, for every viewer and action.
func checkNoWider(t *testing.T, what string, narrow, wide Label) {
	t.Helper()
	for _, v := range allViewers() {
		for _, a := range actions {
			if Can(v, a, narrow).Allow && !Can(v, a, wide).Allow {
				t.Errorf("%s: %s by %s (local %v, groups %v) is allowed on %+v but not on %+v", what, a, v.Role, v.Local, v.Groups, narrow, wide)
			}
		}
	}
}

// A more restrictive TLP never grants more.
func TestStricterTLPNeverGrantsMore(t *testing.T) {
	for _, l := range allLabels() {
		for stricter := l.TLP + 1; stricter <= stix.TLPRed; stricter++ {
			s := l
			s.TLP = stricter
			checkNoWider(t, "TLP "+stricter.String()+" vs "+l.TLP.String(), s, l)
		}
	}
}

// A narrower distribution, in the lattice of docs/POLICY.md, never grants more.
func TestNarrowerDistributionNeverGrantsMore(t *testing.T) {
	wider := map[Distribution][]Distribution{
		DistOrganisation: {DistGroup, DistCommunity, DistFederation, DistAll},
		DistCommunity:    {DistFederation, DistAll},
		DistFederation:   {DistAll},
	}
	for _, l := range allLabels() {
		for _, w := range wider[l.Distribution] {
			wl := l
			wl.Distribution, wl.Group = w, ""
			if w == DistGroup {
				wl.Group = groupG
			}
			checkNoWider(t, "distribution "+l.Distribution.String()+" vs "+w.String(), l, wl)
		}
	}
}

// An ownerless object is never more visible than an owned one, and an owner hosted elsewhere
// never makes an object more visible than an owner hosted here.
func TestOwnerlessAndRemoteNeverGrantMore(t *testing.T) {
	for _, l := range allLabels() {
		if l.Owner == orgViewer || l.Owner == "" {
			continue
		}
		nobody := l
		nobody.Owner, nobody.OwnerLocal = "", false
		checkNoWider(t, "ownerless", nobody, l)
		if l.OwnerLocal {
			remote := l
			remote.OwnerLocal = false
			checkNoWider(t, "owner elsewhere", remote, l)
		}
	}
}

// Structural rules of the actions table, checked over every viewer and label.
func TestActionRules(t *testing.T) {
	for _, l := range allLabels() {
		var localRead *bool
		for _, v := range allViewers() {
			read := Can(v, ActionRead, l).Allow
			write := Can(v, ActionWrite, l).Allow
			if write && !read {
				t.Errorf("%s may write %+v without reading it", v.Role, l)
			}
			if write != Can(v, ActionRevoke, l).Allow {
				t.Errorf("%s: write and revoke differ on %+v", v.Role, l)
			}
			if write != (v.Role != store.RoleReader && l.Owner != "" && l.Owner == v.Org) {
				t.Errorf("%s: write=%v on %+v; only the owner organisation writes, readers never", v.Role, write, l)
			}
			share := Can(v, ActionShare, l).Allow
			if v.Role != store.RolePeer && share {
				t.Errorf("%s may share %+v; only peers are share targets", v.Role, l)
			}
			if v.Role == store.RolePeer && share != read {
				t.Errorf("peer: share=%v, read=%v on %+v; pushing and pulling must agree", share, read, l)
			}
			// Reading does not depend on the role among local accounts with the same groups.
			if v.Local && v.Role != store.RolePeer && len(v.Groups) == 1 {
				if localRead == nil {
					localRead = &read
				} else if *localRead != read {
					t.Errorf("%s reads %+v: %v, another local role: %v", v.Role, l, read, *localRead)
				}
			}
		}
	}
}

// Anything malformed is denied.
func TestFailClosed(t *testing.T) {
	open := Label{TLP: stix.TLPClear, Distribution: DistAll, Owner: orgViewer, OwnerLocal: true}
	for _, v := range []Viewer{
		{Role: store.RoleAdmin, Local: true},                                  // no organisation
		{Role: "root", Org: orgViewer, Local: true},                           // unknown role
		{Role: "", Org: orgViewer, Local: true},                               // no role
		{Role: store.RoleAnalyst, Org: "", Local: true, Groups: []string{""}}, // empty group, no org
	} {
		for _, a := range actions {
			if d := Can(v, a, open); d.Allow || d.Reason != DenyInvalidViewer {
				t.Errorf("%+v %s: %+v, want denied as an invalid viewer", v, a, d)
			}
		}
		if d := CanAdmin(v, AdminManageNode, ""); d.Allow {
			t.Errorf("%+v may manage the node", v)
		}
	}
	analyst := Viewer{Role: store.RoleAnalyst, Org: orgViewer, Local: true, Groups: []string{""}}
	if d := Can(analyst, Action(0), open); d.Allow || d.Reason != DenyUnknownAction {
		t.Errorf("action 0: %+v", d)
	}
	if d := Can(analyst, Action(99), open); d.Allow {
		t.Errorf("action 99: %+v", d)
	}
	if d := CanAdmin(Viewer{Role: store.RoleAdmin, Org: orgViewer}, AdminAction(99), orgViewer); d.Allow {
		t.Errorf("admin action 99: %+v", d)
	}
	// The zero label: nobody reads it; an empty owner is nobody's, even a viewer's with an empty
	// group list and an empty group.
	for _, v := range allViewers() {
		for _, a := range actions {
			if d := Can(v, a, Label{}); d.Allow {
				t.Errorf("%s by %s on the zero label: %+v", a, v.Role, d)
			}
		}
	}
	// Out-of-range values read as the most restrictive.
	weird := []Label{
		{TLP: 77, Distribution: DistAll, Owner: orgLocal, OwnerLocal: true},
		{TLP: stix.TLPClear, Distribution: 99, Owner: orgLocal, OwnerLocal: true},
		{TLP: stix.TLPClear, Distribution: DistGroup, Group: "", Owner: orgLocal, OwnerLocal: true},
	}
	member := Viewer{Role: store.RoleAnalyst, Org: orgViewer, Local: true, Groups: []string{""}}
	for _, l := range weird {
		if d := Can(member, ActionRead, l); d.Allow {
			t.Errorf("%+v read by a local analyst: %+v, want denied", l, d)
		}
	}
}

// Combining two labels with the stricter TLP and the meet of their distributions never grants
// more than either: this is how Classify combines several markings.
func TestMeetNeverGrantsMore(t *testing.T) {
	ls := allLabels()
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		a, b := ls[r.IntN(len(ls))], ls[r.IntN(len(ls))]
		b.Owner, b.OwnerLocal = a.Owner, a.OwnerLocal // markings of one object
		m := Label{TLP: max(a.TLP, b.TLP), Owner: a.Owner, OwnerLocal: a.OwnerLocal}
		m.Distribution, m.Group = meet(a.Distribution, a.Group, b.Distribution, b.Group)
		checkNoWider(t, "meet vs a", m, a)
		checkNoWider(t, "meet vs b", m, b)
	}
}

// Adding a marking to an object never grants more: random objects, random extra markings.
func TestAddingAMarkingNeverGrantsMore(t *testing.T) {
	pool := []string{
		stix.TLP1White, stix.TLP1Green, stix.TLP1Amber, stix.TLP1Red, stix.TLP2Clear, stix.TLP2Green,
		stix.TLP2Amber, stix.TLP2AmberStrict, stix.TLP2Red, MarkingOrganisation, MarkingCommunity,
		MarkingFederation, MarkingAll, markingG, markingH, statementID, unknownID,
	}
	dir := testDir{local: map[string]bool{orgLocal: true, orgViewer: true}, groups: map[string]string{markingG: groupG, markingH: groupH}}
	owners := []string{orgViewer, orgLocal, orgRemote, ""}
	r := rand.New(rand.NewPCG(3, 4))
	compared := 0
	for i := 0; i < 1000; i++ {
		var ms []string
		for n := r.IntN(4); n > 0; n-- {
			ms = append(ms, pool[r.IntN(len(pool))])
		}
		extra := pool[r.IntN(len(pool))]
		owner := owners[r.IntN(len(owners))]
		before := &stix.Object{ID: "indicator--0e000000-0000-4000-8000-000000000001", Type: "indicator", CreatedByRef: owner, ObjectMarkingRefs: ms}
		after := &stix.Object{ID: before.ID, Type: "indicator", CreatedByRef: owner, ObjectMarkingRefs: append(append([]string(nil), ms...), extra)}
		for _, def := range []stix.TLP{stix.TLPClear, stix.TLPAmber} {
			lb, la := Classify(before, dir, def), Classify(after, dir, def)
			// An unmarked object's default can be wider than an explicit marking's, and an explicit
			// TLP below the default can be wider too: those are markings, not restrictions. Only
			// compare when the object already had both a TLP and a distribution.
			if stix.MaxTLP(ms) == stix.TLPNone || !hasDistribution(ms, dir) {
				continue
			}
			checkNoWider(t, fmt.Sprintf("marking %s added to %v of %s", extra, ms, owner), la, lb)
			compared++
		}
	}
	if compared < 200 {
		t.Fatalf("only %d objects compared", compared)
	}
	t.Logf("%d objects compared", compared)
}

func hasDistribution(ms []string, dir Directory) bool {
	for _, m := range ms {
		if _, ok := stix.TLPLevel(m); ok {
			continue
		}
		if _, ok := DistributionLevel(m); ok {
			return true
		}
		if k, _ := dir.Marking(m); k != MarkingOther {
			return true
		}
	}
	return false
}

// Scope must agree with Can on every label, for every viewer.
func TestScopeAgreesWithCan(t *testing.T) {
	labels := allLabels()
	labels = append(labels, Label{}, Label{TLP: stix.TLPClear, Distribution: DistGroup, Owner: orgLocal, OwnerLocal: true})
	viewers := allViewers()
	viewers = append(viewers, Viewer{Role: store.RoleAnalyst, Local: true}, Viewer{Role: "nobody", Org: orgViewer})
	checked := 0
	for _, v := range viewers {
		s := Scope(v)
		for _, l := range labels {
			checked++
			if got, want := s.Allows(l), Can(v, ActionRead, l).Allow; got != want {
				t.Errorf("viewer %s (local %v, groups %v), label %+v: scope says %v, Can says %v", v.Role, v.Local, v.Groups, l, got, want)
			}
		}
	}
	t.Logf("%d viewer × label pairs", checked)
}

func TestCellSet(t *testing.T) {
	var s CellSet
	if len(s.Cells()) != 0 {
		t.Fatal("empty set has cells")
	}
	s |= 1 << Cell(DistAll, stix.TLPRed)
	s |= 1 << Cell(DistOrganisation, stix.TLPClear)
	got := s.Cells()
	want := []uint8{Cell(DistOrganisation, stix.TLPClear), Cell(DistAll, stix.TLPRed)}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("cells %v, want %v", got, want)
	}
	if s.Has(200) {
		t.Fatal("cell 200 is in the set")
	}
	if Cell(DistAll, stix.TLPRed) >= 64 {
		t.Fatal("cells do not fit a 64-bit set")
	}
}
