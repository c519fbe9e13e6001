package policy

import (
	"github.com/renkei-cti/renkei/internal/policy/policytest"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// Organisations and groups of the matrix.
const (
	orgViewer = "identity--0a000000-0000-4000-8000-000000000001" // the viewer's organisation
	orgLocal  = "identity--0a000000-0000-4000-8000-000000000002" // another organisation hosted here
	orgRemote = "identity--0a000000-0000-4000-8000-000000000003" // an organisation hosted on a peer
	groupG    = "6a000000-0000-4000-8000-00000000000a"           // the viewer may be a recipient
	groupH    = "6a000000-0000-4000-8000-00000000000b"           // the viewer never is
	// hiddenID is what relationships, sightings and reports point at: an indicator nobody in the
	// matrix may read. Their labels must not depend on it.
	hiddenID = "indicator--0b000000-0000-4000-8000-0000000000ff"
)

var (
	markingG = SharingGroupMarkingID(groupG, 1)
	markingH = SharingGroupMarkingID(groupH, 3)
)

// statementID is a marking definition the node holds that says nothing about distribution;
// unknownID is one the node does not hold.
const (
	statementID = "marking-definition--0d000000-0000-4000-8000-000000000001"
	unknownID   = "marking-definition--0d000000-0000-4000-8000-000000000002"
)

// testDir is a Directory with fixed answers; it holds statementID as a marking of kind other.
type testDir struct {
	local  map[string]bool
	groups map[string]string
}

func (d testDir) Marking(id string) (MarkingKind, string) {
	if g, ok := d.groups[id]; ok {
		return MarkingGroup, g
	}
	if id == statementID {
		return MarkingOther, ""
	}
	return MarkingUnknown, ""
}

func (d testDir) IsLocal(org string) bool { return d.local[org] }

// tlpChoices are the TLP markings of the matrix: none, every TLP 1.0 and every TLP 2.0 marking.
var tlpChoices = []struct{ name, id string }{
	{"unmarked", ""},
	{"TLP1 WHITE", stix.TLP1White}, {"TLP1 GREEN", stix.TLP1Green}, {"TLP1 AMBER", stix.TLP1Amber}, {"TLP1 RED", stix.TLP1Red},
	{"TLP2 CLEAR", stix.TLP2Clear}, {"TLP2 GREEN", stix.TLP2Green}, {"TLP2 AMBER", stix.TLP2Amber},
	{"TLP2 AMBER+STRICT", stix.TLP2AmberStrict}, {"TLP2 RED", stix.TLP2Red},
}

// distChoices are the distribution markings: none, the four fixed ones, two sharing groups, a
// statement the node holds (no distribution) and a marking the node does not hold (organisation,
// says the page). word is the page's name of the distribution, "" when unmarked.
var distChoices = []struct{ name, id, word, group string }{
	{"unmarked", "", "", ""},
	{"organisation", MarkingOrganisation, "organisation", ""},
	{"community", MarkingCommunity, "community", ""},
	{"federation", MarkingFederation, "federation", ""},
	{"all", MarkingAll, "all", ""},
	{"group G", markingG, "sharing group", groupG},
	{"group H", markingH, "sharing group", groupH},
	{"statement", statementID, "", ""},
	{"unknown marking", unknownID, "organisation", ""},
}

// ownerChoices: who created the object.
var ownerChoices = []struct {
	name  string
	id    string
	local bool
}{
	{"viewer's org", orgViewer, false}, // locality follows the viewer's
	{"local org", orgLocal, true},
	{"remote org", orgRemote, false},
	{"no owner", "", false},
}

// kinds are the object kinds of the matrix. Each builds a valid STIX 2.1 object from its owner
// (created_by_ref, "" for none), TLP marking id and distribution marking id ("" for none).
var kinds = []struct {
	name  string
	owned bool // false: the kind never carries created_by_ref
	build func(owner, tlp, dist string) string
}{
	{"indicator", true, func(o, t, d string) string {
		return sdo("indicator", "0c000000-0000-4000-8000-000000000001", o, refs(t, d),
			`"name":"bad ip","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"`)
	}},
	{"indicator, TLP in a granular marking", true, func(o, t, d string) string {
		extra := `"name":"bad ip","description":"seen in the wild","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"`
		if t != "" {
			extra += `,"granular_markings":[{"marking_ref":"` + t + `","selectors":["description"]}]`
		}
		return sdo("indicator", "0c000000-0000-4000-8000-000000000002", o, refs("", d), extra)
	}},
	{"malware", true, func(o, t, d string) string {
		return sdo("malware", "0c000000-0000-4000-8000-000000000003", o, refs(t, d), `"name":"m","is_family":true`)
	}},
	{"relationship to a hidden indicator", true, func(o, t, d string) string {
		return sdo("relationship", "0c000000-0000-4000-8000-000000000004", o, refs(t, d),
			`"relationship_type":"indicates","source_ref":"`+hiddenID+`","target_ref":"malware--0c000000-0000-4000-8000-000000000003"`)
	}},
	{"sighting of a hidden indicator", true, func(o, t, d string) string {
		return sdo("sighting", "0c000000-0000-4000-8000-000000000005", o, refs(t, d), `"sighting_of_ref":"`+hiddenID+`","count":3`)
	}},
	{"report on a hidden indicator", true, func(o, t, d string) string {
		return sdo("report", "0c000000-0000-4000-8000-000000000006", o, refs(t, d),
			`"name":"r","published":"2024-01-01T00:00:00Z","object_refs":["`+hiddenID+`"]`)
	}},
	{"ipv4-addr", false, func(_, t, d string) string {
		s := `{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--0c000000-0000-4000-8000-000000000007","value":"198.51.100.1"`
		if r := refs(t, d); r != "" {
			s += `,"object_marking_refs":[` + r + `]`
		}
		return s + "}"
	}},
}

func refs(ids ...string) string {
	var q []string
	for _, id := range ids {
		if id != "" {
			q = append(q, `"`+id+`"`)
		}
	}
	return strings.Join(q, ",")
}

func sdo(typ, uuid, owner, markings, extra string) string {
	s := `{"type":"` + typ + `","spec_version":"2.1","id":"` + typ + `--` + uuid +
		`","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z"`
	if owner != "" {
		s += `,"created_by_ref":"` + owner + `"`
	}
	if markings != "" {
		s += `,"object_marking_refs":[` + markings + `]`
	}
	return s + "," + extra + "}"
}

var (
	roles   = []store.Role{store.RoleAdmin, store.RoleOrgAdmin, store.RoleAnalyst, store.RoleReader, store.RolePeer}
	actions = []Action{ActionRead, ActionWrite, ActionRevoke, ActionShare}
)

// TestAccessMatrix checks Classify and Can against the tables of docs/POLICY.md: role × how the
// viewer relates to the owner (owner, locality of both, group membership) × TLP marking (1.0, 2.0,
// none) × distribution marking (fixed, sharing groups, none) × action × object kind.
func TestAccessMatrix(t *testing.T) {
	o := policytest.Load(t)
	cases, mismatches := 0, 0
	relSeen := map[string]int{}
	for _, kind := range kinds {
		for _, own := range ownerChoices {
			if !kind.owned && own.id != "" {
				continue
			}
			for _, tc := range tlpChoices {
				for _, dc := range distChoices {
					raw := kind.build(own.id, tc.id, dc.id)
					obj, err := stix.Decode([]byte(raw))
					if err != nil {
						t.Fatalf("%s: the test built an invalid object: %v\n%s", kind.name, err, raw)
					}
					// What the page says the label is.
					tlpWord := "AMBER" // the node's default
					if tc.id != "" {
						tlpWord = o.TLPOf[tc.id]
					}
					distWord := dc.word
					if distWord == "" {
						distWord = o.DefaultDist[tlpWord]
					}
					for _, viewerLocal := range []bool{true, false} {
						ownerLocal := own.local
						if own.id == orgViewer {
							ownerLocal = viewerLocal
						}
						dir := testDir{
							local:  map[string]bool{orgLocal: true, orgViewer: viewerLocal},
							groups: map[string]string{markingG: groupG, markingH: groupH},
						}
						label := Classify(obj, dir, stix.TLPAmber)
						for _, inGroup := range []bool{true, false} {
							var groups []string
							if inGroup {
								groups = []string{"6a000000-0000-4000-8000-0000000000ee", groupG}
							}
							for _, role := range roles {
								v := Viewer{UserID: "u1", Role: role, Org: orgViewer, Node: "n1", Local: viewerLocal, Groups: groups}
								for _, a := range actions {
									s := policytest.Scenario{
										Role: string(role), ViewerLocal: viewerLocal, SameOrg: own.id == orgViewer,
										Owned: own.id != "", OwnerLocal: ownerLocal, TLP: tlpWord, Dist: distWord,
										InGroup: inGroup && dc.group == groupG, Action: a.String(),
									}
									want, err := o.Decide(s)
									if err != nil {
										t.Fatalf("oracle: %v (%+v)", err, s)
									}
									got := Can(v, a, label)
									cases++
									relSeen[s.Relation()]++
									if got.Allow != want {
										mismatches++
										if mismatches <= 20 {
											t.Errorf("%s by %s (owner: %s, viewer local: %v, in group: %v), %s, distribution %s: %s → allow=%v (%s), the page says %v [relation %s, label %+v]",
												a, role, own.name, viewerLocal, inGroup, tc.name, dc.name, kind.name, got.Allow, got.Reason, want, s.Relation(), label)
										}
									}
									if got.Allow != (got.Reason == ReasonOwner || got.Reason == ReasonShared) {
										t.Fatalf("decision %+v: Allow and Reason disagree", got)
									}
								}
							}
						}
					}
				}
			}
		}
	}
	if mismatches > 0 {
		t.Fatalf("%d of %d cases disagree with docs/POLICY.md", mismatches, cases)
	}
	if cases < 10000 {
		t.Fatalf("only %d cases; the matrix must have at least 10,000", cases)
	}
	for _, r := range policytest.DocRels {
		if relSeen[r] == 0 {
			t.Errorf("no case had relation %s", r)
		}
	}
	t.Logf("%d cases, zero mismatches; by relation: %v", cases, relSeen)
}

// TestPredefinedDefinitions: every viewer reads the predefined definitions, every peer receives
// them, and nobody changes them, as the page says (TLP:CLEAR, distribution all, no owner).
func TestPredefinedDefinitions(t *testing.T) {
	o := policytest.Load(t)
	var objs []*stix.Object
	for _, m := range stix.BuiltinMarkings() {
		obj, err := stix.Decode(m.JSON)
		if err != nil {
			t.Fatalf("%s: %v", m.ID, err)
		}
		objs = append(objs, obj)
	}
	for _, d := range Definitions() {
		obj, err := stix.Decode(d.JSON)
		if err != nil {
			t.Fatalf("%s: %v", d.ID, err)
		}
		objs = append(objs, obj)
	}
	// The TLP 2.0 extension-definition is not seeded by stix; its id is enough for Classify.
	objs = append(objs, &stix.Object{ID: stix.TLP2ExtensionID, Type: "extension-definition"})
	dir := testDir{local: map[string]bool{orgViewer: true}}
	for _, obj := range objs {
		label := Classify(obj, dir, stix.TLPRed)
		for _, viewerLocal := range []bool{true, false} {
			for _, role := range roles {
				v := Viewer{Role: role, Org: orgViewer, Local: viewerLocal}
				for _, a := range actions {
					want, err := o.Decide(policytest.Scenario{Role: string(role), ViewerLocal: viewerLocal, TLP: "CLEAR", Dist: "all", Action: a.String()})
					if err != nil {
						t.Fatal(err)
					}
					if got := Can(v, a, label); got.Allow != want {
						t.Errorf("%s on %s by %s (local %v): allow=%v, want %v", a, obj.ID, role, viewerLocal, got.Allow, want)
					}
				}
			}
		}
	}
}

// TestAdminTables checks CanAdmin and CanAssignRole against the page's admin and roles tables.
func TestAdminTables(t *testing.T) {
	o := policytest.Load(t)
	adminActs := map[string]AdminAction{}
	for a := AdminManageNode; a <= AdminReadAudit; a++ {
		adminActs[a.String()] = a
	}
	if len(adminActs) != len(policytest.DocAdminActs) {
		t.Fatalf("the code has %d admin actions, the page %d", len(adminActs), len(policytest.DocAdminActs))
	}
	cases := 0
	for _, role := range roles {
		v := Viewer{Role: role, Org: orgViewer, Local: role != store.RolePeer}
		for _, target := range []string{orgViewer, orgLocal} {
			for _, name := range policytest.DocAdminActs {
				a, ok := adminActs[name]
				if !ok {
					t.Fatalf("the page names admin action %q, the code has none", name)
				}
				want := cellAllows(t, o.Admin[[2]string{name, string(role)}], target == orgViewer)
				if name == "manage-node" && o.Admin[[2]string{name, string(role)}] == "own org" {
					want = false // the node is nobody's own organisation
				}
				cases++
				if got := CanAdmin(v, a, target); got.Allow != want {
					t.Errorf("%s by %s on %s: allow=%v (%s), the page says %v", name, role, target, got.Allow, got.Reason, want)
				}
			}
			for _, given := range roles {
				want := cellAllows(t, o.Roles[[2]string{string(given), string(role)}], target == orgViewer)
				cases++
				if got := CanAssignRole(v, given, target); got.Allow != want {
					t.Errorf("%s gives %s in %s: allow=%v (%s), the page says %v", role, given, target, got.Allow, got.Reason, want)
				}
			}
		}
	}
	t.Logf("%d cases", cases)
}

func cellAllows(t *testing.T, cell string, ownOrg bool) bool {
	t.Helper()
	switch cell {
	case "allow":
		return true
	case "deny":
		return false
	case "own org":
		return ownOrg
	}
	t.Fatalf("unknown cell %q", cell)
	return false
}

// TestOracleIsNotVacuous guards the guard: a page that said something else must make the matrix
// fail. It flips single read cells of a parsed copy and checks the oracle's answer changes.
func TestOracleIsNotVacuous(t *testing.T) {
	o := policytest.Load(t)
	flipped := 0
	for k, cell := range o.ReadTable {
		if cell == "n/a" {
			continue
		}
		s := policytest.Scenario{Role: "analyst", ViewerLocal: true, Owned: true, TLP: k[0], Dist: k[1], Action: "read"}
		switch k[2] {
		case "same-org":
			s.SameOrg = true
		case "same-group":
			s.InGroup, s.OwnerLocal = true, true
		case "same-node":
			s.OwnerLocal = true
		case "federated":
		case "none":
			s.Role = "peer"
		}
		if s.Relation() != k[2] {
			t.Fatalf("scenario for %v has relation %s", k, s.Relation())
		}
		before, err := o.Decide(s)
		if err != nil {
			t.Fatal(err)
		}
		l := Label{TLP: tlpFromWord(t, k[0]), Distribution: distFromWord(t, k[1]), Owner: orgLocal, OwnerLocal: s.OwnerLocal}
		if s.SameOrg {
			l.Owner = orgViewer
		}
		if l.Distribution == DistGroup {
			l.Group = groupG
		}
		v := Viewer{Role: store.Role(s.Role), Org: orgViewer, Local: s.Role != "peer"}
		if s.InGroup {
			v.Groups = []string{groupG}
		}
		if got := Can(v, ActionRead, l).Allow; got != before {
			t.Errorf("cell %v: Can says %v, the page says %v", k, got, before)
		}
		o.ReadTable[k] = map[string]string{"allow": "deny", "deny": "allow"}[cell]
		after, err := o.Decide(s)
		if err != nil {
			t.Fatal(err)
		}
		if after == before {
			t.Fatalf("flipping cell %v did not change the oracle's answer", k)
		}
		o.ReadTable[k] = cell
		flipped++
	}
	if flipped < 50 {
		t.Fatalf("only %d cells could be flipped", flipped)
	}
}

func tlpFromWord(t *testing.T, w string) stix.TLP {
	for l := stix.TLPClear; l <= stix.TLPRed; l++ {
		if strings.TrimPrefix(l.String(), "TLP:") == w {
			return l
		}
	}
	t.Fatalf("unknown TLP word %q", w)
	return 0
}

func distFromWord(t *testing.T, w string) Distribution {
	for d := DistOrganisation; d <= DistAll; d++ {
		if d.String() == w {
			return d
		}
	}
	t.Fatalf("unknown distribution word %q", w)
	return 0
}
