package policy

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/renkei-cti/renkei/internal/stix"
)

func TestDefinitions(t *testing.T) {
	defs := Definitions()
	if len(defs) != 6 {
		t.Fatalf("%d definitions, want 6", len(defs))
	}
	seen := map[string]bool{}
	dists := map[Distribution]string{}
	for _, d := range defs {
		t.Run(d.ID, func(t *testing.T) {
			if seen[d.ID] {
				t.Fatalf("id listed twice")
			}
			seen[d.ID] = true
			obj, err := stix.Decode(d.JSON)
			if err != nil {
				t.Fatalf("does not validate: %v", err)
			}
			if obj.ID != d.ID {
				t.Fatalf("object id %s", obj.ID)
			}
			if _, ok := stix.TLPLevel(d.ID); ok {
				t.Fatal("collides with a TLP marking")
			}
			var doc map[string]any
			if err := json.Unmarshal(d.JSON, &doc); err != nil {
				t.Fatal(err)
			}
			switch doc["type"] {
			case "marking-definition":
				if d.Distribution == DistUnset || d.Distribution == DistGroup {
					t.Fatalf("marking with distribution %v", d.Distribution)
				}
				dists[d.Distribution] = d.ID
				ext, _ := doc["extensions"].(map[string]any)[ExtensionID].(map[string]any)
				if ext["extension_type"] != "property-extension" || ext["distribution"] != d.Distribution.String() {
					t.Fatalf("extension %v", ext)
				}
				if got, ok := DistributionLevel(d.ID); !ok || got != d.Distribution {
					t.Fatalf("DistributionLevel = %v, %v", got, ok)
				}
				if DistributionMarkingID(d.Distribution) != d.ID {
					t.Fatalf("DistributionMarkingID = %s", DistributionMarkingID(d.Distribution))
				}
				if doc["created_by_ref"] != IdentityID {
					t.Fatalf("created_by_ref %v", doc["created_by_ref"])
				}
			case "extension-definition":
				if d.ID != ExtensionID || doc["created_by_ref"] != IdentityID || doc["schema"] != ExtensionSchema {
					t.Fatalf("extension-definition %v", doc)
				}
				if types, _ := doc["extension_types"].([]any); len(types) != 1 || types[0] != "property-extension" {
					t.Fatalf("extension_types %v", doc["extension_types"])
				}
			case "identity":
				if d.ID != IdentityID {
					t.Fatalf("identity id %s", d.ID)
				}
			default:
				t.Fatalf("unexpected type %v", doc["type"])
			}
			// A fresh copy each call.
			again := Definitions()
			for i := range again {
				again[i].JSON[0] = 'X'
			}
			if Definitions()[0].JSON[0] != '{' {
				t.Fatal("Definitions shares its bytes between calls")
			}
		})
	}
	if len(dists) != 4 {
		t.Fatalf("distribution markings for %v, want four levels", dists)
	}
	if DistributionMarkingID(DistGroup) != "" || DistributionMarkingID(DistUnset) != "" {
		t.Fatal("group or unset has a fixed marking id")
	}
	if _, ok := DistributionLevel(stix.TLP2Red); ok {
		t.Fatal("a TLP marking is a distribution")
	}
}

func testGroup() SharingGroup {
	return SharingGroup{
		ID: groupG, Name: `CERTs "north" — ✓`, Owner: orgLocal, Revision: 2,
		Members: []string{orgViewer, orgRemote}, Created: time.Date(2025, 3, 4, 5, 6, 7, 891234567, time.UTC),
	}
}

func TestSharingGroupRoundTrip(t *testing.T) {
	g := testGroup()
	raw, err := SharingGroupMarking(g)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := stix.Decode(raw)
	if err != nil {
		t.Fatalf("the marking does not validate: %v\n%s", err, raw)
	}
	if obj.ID != SharingGroupMarkingID(g.ID, 2) || obj.ID == SharingGroupMarkingID(g.ID, 1) {
		t.Fatalf("id %s", obj.ID)
	}
	if !bytes.Contains(raw, []byte(`"created":"2025-03-04T05:06:07.891Z"`)) {
		t.Fatalf("created not kept to the millisecond: %s", raw)
	}
	back, err := ParseSharingGroupMarking(obj)
	if err != nil {
		t.Fatal(err)
	}
	g.Created = g.Created.Truncate(time.Millisecond)
	if back.ID != g.ID || back.Name != g.Name || back.Owner != g.Owner || back.Revision != g.Revision ||
		strings.Join(back.Members, ",") != strings.Join(g.Members, ",") || !back.Created.Equal(g.Created) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, g)
	}
	// The group's own marking definition is addressed to the group.
	l := Classify(obj, testDir{local: map[string]bool{orgLocal: true}}, stix.TLPAmber)
	if l.Distribution != DistGroup || l.Group != g.ID || l.Owner != orgLocal || !l.OwnerLocal || l.TLP != stix.TLPAmber {
		t.Fatalf("label of the group marking: %+v", l)
	}
	member := Viewer{Role: "reader", Org: orgViewer, Local: true, Groups: []string{g.ID}}
	outsider := Viewer{Role: "reader", Org: orgViewer, Local: true}
	if !Can(member, ActionRead, l).Allow || Can(outsider, ActionRead, l).Allow {
		t.Fatal("the group's marking must be readable by members only")
	}
}

func TestSharingGroupInvalid(t *testing.T) {
	many := make([]string, MaxGroupMembers+1)
	for i := range many {
		many[i] = "identity--0f000000-0000-4000-8000-" + strings.Repeat("0", 12-len(itoa(i))) + itoa(i)
	}
	tests := []struct {
		name string
		edit func(*SharingGroup)
		want string
	}{
		{"upper-case id", func(g *SharingGroup) { g.ID = strings.ToUpper(g.ID) }, "canonical"},
		{"not a uuid", func(g *SharingGroup) { g.ID = "group-1" }, "not a UUID"},
		{"empty name", func(g *SharingGroup) { g.Name = "" }, "group name"},
		{"long name", func(g *SharingGroup) { g.Name = strings.Repeat("n", MaxGroupNameSize+1) }, "group name"},
		{"bad utf-8", func(g *SharingGroup) { g.Name = "\xff" }, "group name"},
		{"owner not identity", func(g *SharingGroup) { g.Owner = "malware--0a000000-0000-4000-8000-000000000002" }, "owner"},
		{"revision 0", func(g *SharingGroup) { g.Revision = 0 }, "revision"},
		{"member not identity", func(g *SharingGroup) { g.Members = []string{`identity--x","y`} }, "member 0"},
		{"member twice", func(g *SharingGroup) { g.Members = []string{orgViewer, orgViewer} }, "listed twice"},
		{"too many", func(g *SharingGroup) { g.Members = many }, "limit"},
		{"no created", func(g *SharingGroup) { g.Created = time.Time{} }, "created"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := testGroup()
			tc.edit(&g)
			_, err := SharingGroupMarking(g)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestParseSharingGroupMarking(t *testing.T) {
	good, err := SharingGroupMarking(testGroup())
	if err != nil {
		t.Fatal(err)
	}
	g := testGroup()
	wrongID := bytes.Replace(good, []byte(g.MarkingID()), []byte(SharingGroupMarkingID(g.ID, 9)), 1)
	noMembers := bytes.Replace(good, []byte(`,"group_members":["`+orgViewer+`","`+orgRemote+`"]`), nil, 1)
	badMember := bytes.Replace(good, []byte(orgRemote), []byte("identity--nope"), 1)
	noRevision := bytes.Replace(good, []byte(`,"group_revision":2`), nil, 1)
	community, err := stix.Decode(Definitions()[3].JSON)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		raw     []byte
		obj     *stix.Object
		notOurs bool
		want    string
	}{
		{name: "wrong id", raw: wrongID, want: "id should be"},
		{name: "no members", raw: noMembers, want: "group_members is missing"},
		{name: "bad member", raw: badMember, want: "member 1"},
		{name: "no revision", raw: noRevision, want: "group_revision is missing"},
		{name: "distribution marking", obj: community, notOurs: true},
		{name: "TLP marking", raw: stix.BuiltinMarkings()[8].JSON, notOurs: true},
		{name: "not a marking", raw: []byte(sdo("indicator", "0c000000-0000-4000-8000-000000000001", "", "",
			`"pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"`)), notOurs: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := tc.obj
			if obj == nil {
				var err error
				if obj, err = stix.Decode(tc.raw); err != nil {
					t.Fatalf("test object does not validate: %v\n%s", err, tc.raw)
				}
			}
			_, err := ParseSharingGroupMarking(obj)
			switch {
			case tc.notOurs:
				if !errors.Is(err, ErrNotSharingGroup) {
					t.Fatalf("error %v, want ErrNotSharingGroup", err)
				}
			case err == nil || errors.Is(err, ErrNotSharingGroup) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), obj.ID):
				t.Fatalf("error %v, want one naming %s and mentioning %q", err, obj.ID, tc.want)
			}
			// A malformed group marking never gives its object a group label.
			if !tc.notOurs {
				if l := Classify(obj, nil, stix.TLPAmber); l.Distribution == DistGroup {
					t.Fatalf("malformed group marking classified as %+v", l)
				}
			}
		})
	}
}

func TestClassify(t *testing.T) {
	dir := testDir{local: map[string]bool{orgLocal: true}, groups: map[string]string{markingG: groupG, markingH: groupH}}
	tests := []struct {
		name     string
		markings []string
		granular []string
		def      stix.TLP
		tlp      stix.TLP
		dist     Distribution
		group    string
	}{
		{"unmarked", nil, nil, stix.TLPAmber, stix.TLPAmber, DistOrganisation, ""},
		{"unmarked, default none means AMBER", nil, nil, stix.TLPNone, stix.TLPAmber, DistOrganisation, ""},
		{"unmarked, default out of range means AMBER", nil, nil, 42, stix.TLPAmber, DistOrganisation, ""},
		{"unmarked, default GREEN", nil, nil, stix.TLPGreen, stix.TLPGreen, DistFederation, ""},
		{"unmarked, default CLEAR", nil, nil, stix.TLPClear, stix.TLPClear, DistAll, ""},
		{"TLP 1.0 white", []string{stix.TLP1White}, nil, stix.TLPAmber, stix.TLPClear, DistAll, ""},
		{"TLP 1.0 amber and 2.0 red", []string{stix.TLP1Amber, stix.TLP2Red}, nil, stix.TLPAmber, stix.TLPRed, DistOrganisation, ""},
		{"green + community", []string{stix.TLP2Green, MarkingCommunity}, nil, stix.TLPAmber, stix.TLPGreen, DistCommunity, ""},
		{"community + federation", []string{MarkingFederation, MarkingCommunity}, nil, stix.TLPAmber, stix.TLPAmber, DistCommunity, ""},
		{"all + group", []string{MarkingAll, markingG}, nil, stix.TLPAmber, stix.TLPAmber, DistOrganisation, ""},
		{"group twice", []string{markingG, markingG}, nil, stix.TLPAmber, stix.TLPAmber, DistGroup, groupG},
		{"two groups", []string{markingG, markingH}, nil, stix.TLPAmber, stix.TLPAmber, DistOrganisation, ""},
		{"group + community", []string{markingG, MarkingCommunity}, nil, stix.TLPAmber, stix.TLPAmber, DistOrganisation, ""},
		{"group + federation", []string{MarkingFederation, markingG}, nil, stix.TLPAmber, stix.TLPAmber, DistOrganisation, ""},
		{"organisation + all", []string{MarkingAll, MarkingOrganisation}, nil, stix.TLPAmber, stix.TLPAmber, DistOrganisation, ""},
		{"statement only", []string{statementID}, nil, stix.TLPGreen, stix.TLPGreen, DistFederation, ""},
		{"statement + all", []string{statementID, MarkingAll}, nil, stix.TLPGreen, stix.TLPGreen, DistAll, ""},
		{"unknown marking only", []string{unknownID}, nil, stix.TLPGreen, stix.TLPGreen, DistOrganisation, ""},
		{"unknown marking + all", []string{MarkingAll, unknownID}, nil, stix.TLPClear, stix.TLPClear, DistOrganisation, ""},
		{"unknown marking + TLP clear", []string{stix.TLP2Clear, unknownID}, nil, stix.TLPAmber, stix.TLPClear, DistOrganisation, ""},
		{"unknown group marking", []string{SharingGroupMarkingID(groupG, 7)}, nil, stix.TLPAmber, stix.TLPAmber, DistOrganisation, ""},
		{"granular red beats object green", []string{stix.TLP2Green, MarkingAll}, []string{stix.TLP2Red}, stix.TLPAmber, stix.TLPRed, DistAll, ""},
		{"granular distribution counts", []string{stix.TLP2Clear}, []string{MarkingCommunity}, stix.TLPAmber, stix.TLPClear, DistCommunity, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := &stix.Object{ID: "indicator--0e000000-0000-4000-8000-000000000001", Type: "indicator", CreatedByRef: orgLocal, ObjectMarkingRefs: tc.markings}
			for _, g := range tc.granular {
				obj.Edges = append(obj.Edges, stix.Edge{Source: obj.ID, Target: g, Type: "marking_ref"})
			}
			l := Classify(obj, dir, tc.def)
			if l.TLP != tc.tlp || l.Distribution != tc.dist || l.Group != tc.group || l.Owner != orgLocal || !l.OwnerLocal {
				t.Fatalf("label %+v, want TLP %v, distribution %v, group %q, owner %s (local)", l, tc.tlp, tc.dist, tc.group, orgLocal)
			}
		})
	}
	t.Run("no directory", func(t *testing.T) {
		obj := &stix.Object{ID: "indicator--0e000000-0000-4000-8000-000000000001", Type: "indicator", CreatedByRef: orgLocal, ObjectMarkingRefs: []string{markingG}}
		if l := Classify(obj, nil, stix.TLPAmber); l.Distribution != DistOrganisation || l.OwnerLocal {
			t.Fatalf("label %+v", l)
		}
	})
	t.Run("ownerless is never local", func(t *testing.T) {
		obj := &stix.Object{ID: "ipv4-addr--0e000000-0000-4000-8000-000000000001", Type: "ipv4-addr"}
		if l := Classify(obj, testDir{local: map[string]bool{"": true}}, stix.TLPAmber); l.OwnerLocal || l.Owner != "" {
			t.Fatalf("label %+v", l)
		}
	})
}

func TestMeetLattice(t *testing.T) {
	d := []Distribution{DistOrganisation, DistGroup, DistCommunity, DistFederation, DistAll}
	// want[i][j]: meet of d[i] and d[j] (group G with group G).
	want := [5][5]Distribution{
		{DistOrganisation, DistOrganisation, DistOrganisation, DistOrganisation, DistOrganisation},
		{DistOrganisation, DistGroup, DistOrganisation, DistOrganisation, DistOrganisation},
		{DistOrganisation, DistOrganisation, DistCommunity, DistCommunity, DistCommunity},
		{DistOrganisation, DistOrganisation, DistCommunity, DistFederation, DistFederation},
		{DistOrganisation, DistOrganisation, DistCommunity, DistFederation, DistAll},
	}
	group := func(x Distribution) string {
		if x == DistGroup {
			return groupG
		}
		return ""
	}
	for i := range d {
		for j := range d {
			m, g := meet(d[i], group(d[i]), d[j], group(d[j]))
			if m != want[i][j] || (m == DistGroup) != (g == groupG) || (m != DistGroup && g != "") {
				t.Errorf("meet(%v, %v) = %v %q, want %v", d[i], d[j], m, g, want[i][j])
			}
			if m2, _ := meet(d[j], group(d[j]), d[i], group(d[i])); m2 != m {
				t.Errorf("meet is not commutative on %v, %v", d[i], d[j])
			}
		}
		if m, _ := meet(DistUnset, "", d[i], group(d[i])); m != d[i] {
			t.Errorf("unset is not neutral for %v", d[i])
		}
	}
	if m, g := meet(DistGroup, groupG, DistGroup, groupH); m != DistOrganisation || g != "" {
		t.Errorf("meet of two groups = %v %q", m, g)
	}
}
