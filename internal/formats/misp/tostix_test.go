package misp

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"

	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
	"github.com/renkei-cti/renkei/internal/testdata"
)

// sharedEvents returns the paths of every MISP event file in the shared test data.
func sharedEvents(t *testing.T) []string {
	t.Helper()
	dir := testdata.Path(t, "misp", "events")
	var out []string
	for _, sub := range []string{"misp-core", "pymisp", "misp-stix"} {
		ms, err := filepath.Glob(filepath.Join(dir, sub, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if strings.Contains(m, "schema") || strings.HasSuffix(m, "_stix21.json") {
				continue
			}
			out = append(out, m)
		}
	}
	if len(out) < 10 {
		t.Fatalf("found only %d MISP event files in %s", len(out), dir)
	}
	return out
}

func decodeFile(t *testing.T, path string) []*Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, err := DecodeEvents(f, Limits{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return evs
}

// decodeAll checks every object with stix.Decode (and every stix pattern with pattern.Compile), and
// returns them by id.
func decodeAll(t *testing.T, objs [][]byte) map[string]*stix.Object {
	t.Helper()
	byID := map[string]*stix.Object{}
	for _, raw := range objs {
		o, err := stix.Decode(raw)
		if err != nil {
			t.Fatalf("stix.Decode: %v\n%s", err, raw)
		}
		if _, dup := byID[o.ID]; dup {
			t.Errorf("object %s written twice", o.ID)
		}
		byID[o.ID] = o
		if o.Type == "indicator" {
			var p struct {
				Pattern     string `json:"pattern"`
				PatternType string `json:"pattern_type"`
			}
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatal(err)
			}
			if p.PatternType == "stix" {
				if _, err := pattern.Compile(p.Pattern); err != nil {
					t.Errorf("%s: pattern %q: %v", o.ID, p.Pattern, err)
				}
			}
		}
	}
	return byID
}

func TestEverySharedEventConverts(t *testing.T) {
	for _, path := range sharedEvents(t) {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			for _, ev := range decodeFile(t, path) {
				res, err := ToSTIX(ev, Options{})
				if err != nil {
					t.Fatal(err)
				}
				byID := decodeAll(t, res.Objects)
				c := res.Counts
				want := len(ev.Attribute)
				for _, o := range ev.Object {
					want += len(o.Attribute)
				}
				if c.Attributes != want {
					t.Errorf("counted %d attributes, the event has %d", c.Attributes, want)
				}
				if sum := c.Indicators + c.Observables + c.Notes + c.References + c.Vulnerabilities + c.Skipped; sum != c.Attributes {
					t.Errorf("outcomes add up to %d, not %d attributes: %+v", sum, c.Attributes, c)
				}
				if len(res.Skipped) != c.Skipped {
					t.Errorf("%d skips listed, %d counted", len(res.Skipped), c.Skipped)
				}
				for _, s := range res.Skipped {
					if s.Reason == "" || s.Event != ev.UUID {
						t.Errorf("skip without a reason or event: %+v", s)
					}
				}
				rep := byID[res.ReportID]
				if rep == nil || rep.Type != "report" {
					t.Fatalf("no report %s", res.ReportID)
				}
				// Every reference of the report resolves to an object written.
				for _, e := range rep.Edges {
					if e.Type == "object_refs" && byID[e.Target] == nil {
						t.Errorf("report refers to %s, which was not written", e.Target)
					}
				}
				// Same event, same bytes.
				again, err := ToSTIX(ev, Options{})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(res.Bundle(), again.Bundle()) {
					t.Error("two conversions of the same event differ")
				}
				t.Logf("%s: %+v, %d objects, %d warnings", ev.UUID, c, len(res.Objects), len(res.Warnings))
				for _, s := range res.Skipped {
					t.Logf("skipped: %s", s)
				}
			}
		})
	}
}

// objectsOf returns the decoded JSON of every object of a given type.
func objectsOf(t *testing.T, objs [][]byte, typ string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, raw := range objs {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if m["type"] == typ {
			out = append(out, m)
		}
	}
	return out
}

func convertJSON(t *testing.T, src string) *Result {
	t.Helper()
	evs, err := DecodeEvents(strings.NewReader(src), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ToSTIX(evs[0], Options{})
	if err != nil {
		t.Fatal(err)
	}
	decodeAll(t, res.Objects)
	return res
}

func TestAttributeMapping(t *testing.T) {
	const head = `{"Event":{"uuid":"11111111-2222-4333-8444-555555555555","info":"t","date":"2024-01-02","timestamp":"1704200000",
		"distribution":"1","Orgc":{"uuid":"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee","name":"CERT-X"},"Tag":[{"name":"tlp:amber"},{"name":"PAP:GREEN"}],
		"Attribute":[`
	tests := []struct {
		name, attr  string
		wantType    string // type of the attribute's main object
		wantPattern string
		wantOutcome Outcome
	}{
		{"ip to_ids", `{"uuid":"0a000000-0000-4000-8000-000000000001","type":"ip-dst","category":"Network activity","value":"198.51.100.7","to_ids":true}`,
			"indicator", "[ipv4-addr:value = '198.51.100.7']", OutcomeIndicator},
		{"cidr", `{"uuid":"0a000000-0000-4000-8000-000000000002","type":"ip-src","value":"2001:db8::/32","to_ids":"1"}`,
			"indicator", "[ipv6-addr:value ISSUBSET '2001:db8::/32']", OutcomeIndicator},
		{"quote escaped", `{"uuid":"0a000000-0000-4000-8000-000000000003","type":"filename","value":"it's a \\ file","to_ids":true}`,
			"indicator", `[file:name = 'it\'s a \\ file']`, OutcomeIndicator},
		{"filename|sha256", `{"uuid":"0a000000-0000-4000-8000-000000000004","type":"filename|sha256","value":"a.exe|` + strings.Repeat("ab", 32) + `","to_ids":true}`,
			"indicator", "[file:name = 'a.exe' AND file:hashes.'SHA-256' = '" + strings.Repeat("ab", 32) + "']", OutcomeIndicator},
		{"domain|ip", `{"uuid":"0a000000-0000-4000-8000-000000000005","type":"domain|ip","value":"circl.lu|149.13.33.14","to_ids":true}`,
			"indicator", "[domain-name:value = 'circl.lu' AND domain-name:resolves_to_refs[*].value = '149.13.33.14']", OutcomeIndicator},
		{"AS", `{"uuid":"0a000000-0000-4000-8000-000000000006","type":"AS","value":"AS174","to_ids":true}`,
			"indicator", "[autonomous-system:number = 174]", OutcomeIndicator},
		{"ip-dst|port", `{"uuid":"0a000000-0000-4000-8000-000000000007","type":"ip-dst|port","value":"192.0.2.1|443","to_ids":true}`,
			"indicator", "[network-traffic:dst_ref.value = '192.0.2.1' AND network-traffic:dst_port = 443]", OutcomeIndicator},
		{"yara", `{"uuid":"0a000000-0000-4000-8000-000000000008","type":"yara","value":"rule x { condition: true }","to_ids":true}`,
			"indicator", "rule x { condition: true }", OutcomeIndicator},
		{"domain observed", `{"uuid":"0a000000-0000-4000-8000-000000000009","type":"domain","value":"example.org","to_ids":false}`,
			"observed-data", "", OutcomeObservable},
		{"text note", `{"uuid":"0a000000-0000-4000-8000-00000000000a","type":"text","value":"free text","to_ids":false}`,
			"note", "", OutcomeNote},
		{"vulnerability", `{"uuid":"0a000000-0000-4000-8000-00000000000b","type":"vulnerability","value":"CVE-2021-44228"}`,
			"vulnerability", "", OutcomeVulnerability},
		{"link", `{"uuid":"0a000000-0000-4000-8000-00000000000c","type":"link","value":"https://example.org/report"}`,
			"", "", OutcomeReference},
		{"bad ip", `{"uuid":"0a000000-0000-4000-8000-00000000000d","type":"ip-dst","value":"999.1.1.1","to_ids":true}`,
			"", "", OutcomeSkipped},
		{"bad md5", `{"uuid":"0a000000-0000-4000-8000-00000000000e","type":"md5","value":"not-a-hash","to_ids":false}`,
			"", "", OutcomeSkipped},
		{"missing part", `{"uuid":"0a000000-0000-4000-8000-00000000000f","type":"filename|md5","value":"only-a-name","to_ids":true}`,
			"", "", OutcomeSkipped},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := convertJSON(t, head+tc.attr+`]}}`)
			var attr Attribute
			if err := json.Unmarshal([]byte(tc.attr), &attr); err != nil {
				t.Fatal(err)
			}
			got := Counts{Attributes: 1}
			got.add(tc.wantOutcome)
			if res.Counts.Attributes != 1 || res.Counts.Indicators != got.Indicators || res.Counts.Observables != got.Observables ||
				res.Counts.Notes != got.Notes || res.Counts.Vulnerabilities != got.Vulnerabilities ||
				res.Counts.References != got.References || res.Counts.Skipped != got.Skipped {
				t.Fatalf("counts %+v, want outcome %d; skipped %v", res.Counts, tc.wantOutcome, res.Skipped)
			}
			if tc.wantType == "" {
				return
			}
			id := tc.wantType + "--" + attr.UUID
			var obj map[string]any
			for _, o := range objectsOf(t, res.Objects, tc.wantType) {
				if o["id"] == id {
					obj = o
				}
			}
			if obj == nil {
				t.Fatalf("no %s", id)
			}
			if tc.wantPattern != "" && obj["pattern"] != tc.wantPattern {
				t.Errorf("pattern %v, want %s", obj["pattern"], tc.wantPattern)
			}
			marks := obj["object_marking_refs"].([]any)
			if !slices.Contains(marks, any(stix.TLP2Amber)) || !slices.Contains(marks, any(policy.MarkingCommunity)) {
				t.Errorf("markings %v, want TLP:AMBER and community", marks)
			}
			if obj["created_by_ref"] != "identity--aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee" {
				t.Errorf("created_by_ref %v", obj["created_by_ref"])
			}
		})
	}
}

func TestDistributionAndTLP(t *testing.T) {
	ev := func(dist, attrDist, tags, attrTags string) string {
		return `{"Event":{"uuid":"11111111-2222-4333-8444-555555555555","info":"t","timestamp":"1704200000","distribution":"` + dist + `",
		"sharing_group_id":"7","SharingGroup":{"uuid":"5a5a5a5a-0000-4000-8000-000000000001","name":"Energy ISAC","modified":"2023-05-01 10:00:00",
		"Organisation":{"uuid":"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"},
		"SharingGroupOrg":[{"Organisation":{"uuid":"bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee"}},{"Organisation":{"uuid":"cccccccc-bbbb-4ccc-8ddd-eeeeeeeeeeee"}}]},
		"Orgc":{"uuid":"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee","name":"CERT-X"},"Tag":[` + tags + `],
		"Attribute":[{"uuid":"0a000000-0000-4000-8000-000000000001","type":"domain","value":"example.org","to_ids":true,"distribution":"` + attrDist + `","Tag":[` + attrTags + `]}]}}`
	}
	group := policy.SharingGroupMarkingID("5a5a5a5a-0000-4000-8000-000000000001", 1682935200)
	tests := []struct {
		name                       string
		dist, attrDist, tags, atag string
		want                       []string
	}{
		{"all, white", "3", "5", `{"name":"tlp:white"}`, "", []string{stix.TLP2Clear, policy.MarkingAll}},
		{"attribute narrower", "3", "0", `{"name":"tlp:green"}`, "", []string{stix.TLP2Green, policy.MarkingOrganisation}},
		{"attribute cannot widen", "1", "3", "", "", []string{policy.MarkingCommunity}},
		{"connected", "2", "", "", `{"name":"TLP:RED"}`, []string{stix.TLP2Red, policy.MarkingFederation}},
		{"amber+strict on attribute wins", "3", "5", `{"name":"tlp:amber"}`, `{"name":"tlp:amber+strict"}`, []string{stix.TLP2AmberStrict, policy.MarkingAll}},
		{"sharing group", "4", "5", `{"name":"tlp:clear"}`, "", []string{stix.TLP2Clear, group}},
		{"no distribution given", "", "", "", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := convertJSON(t, ev(tc.dist, tc.attrDist, tc.tags, tc.atag))
			ins := objectsOf(t, res.Objects, "indicator")
			if len(ins) != 1 {
				t.Fatalf("%d indicators", len(ins))
			}
			var got []string
			if m, ok := ins[0]["object_marking_refs"].([]any); ok {
				for _, v := range m {
					got = append(got, v.(string))
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("markings %v, want %v", got, tc.want)
			}
			if tc.dist == "4" {
				mds := objectsOf(t, res.Objects, "marking-definition")
				if len(mds) != 1 || mds[0]["id"] != group {
					t.Fatalf("sharing group marking definitions: %v", mds)
				}
				raw, _ := json.Marshal(mds[0])
				obj, err := stix.Decode(raw)
				if err != nil {
					t.Fatal(err)
				}
				g, err := policy.ParseSharingGroupMarking(obj)
				if err != nil {
					t.Fatal(err)
				}
				if g.Name != "Energy ISAC" || len(g.Members) != 2 || g.Owner != "identity--aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee" {
					t.Errorf("group %+v", g)
				}
			}
		})
	}
}

func TestObjectsReferencesSightingsGalaxy(t *testing.T) {
	res := convertJSON(t, `{"Event":{"uuid":"11111111-2222-4333-8444-555555555555","info":"t","timestamp":"1704200000","distribution":"3",
	"Orgc":{"uuid":"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee","name":"CERT-X"},
	"Galaxy":[{"type":"threat-actor","GalaxyCluster":[{"uuid":"68391641-859f-4a9a-9a1e-3e5cf71ec376","value":"Lazarus Group","description":"d",
	  "meta":{"synonyms":["Hidden Cobra","APT38"],"cfr-suspected-state-sponsor":"North Korea"}}]}],
	"Attribute":[{"uuid":"0a000000-0000-4000-8000-000000000001","type":"domain","value":"evil.example","to_ids":true,
	  "Sighting":[{"uuid":"5e000000-0000-4000-8000-000000000001","type":"0","date_sighting":"1704300000","Organisation":{"uuid":"bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee","name":"Y"}},
	              {"type":"1","date_sighting":"1704300001"},{"type":"2","date_sighting":"1704300002"}],
	  "Galaxy":[{"type":"threat-actor","GalaxyCluster":[{"uuid":"68391641-859f-4a9a-9a1e-3e5cf71ec376","value":"Lazarus Group"}]}]}],
	"Object":[{"uuid":"0b000000-0000-4000-8000-000000000001","name":"file","meta-category":"file","Attribute":[
	   {"uuid":"0c000000-0000-4000-8000-000000000001","type":"filename","object_relation":"filename","value":"a.exe"},
	   {"uuid":"0c000000-0000-4000-8000-000000000002","type":"md5","object_relation":"md5","value":"d41d8cd98f00b204e9800998ecf8427e"},
	   {"uuid":"0c000000-0000-4000-8000-000000000003","type":"size-in-bytes","object_relation":"size-in-bytes","value":"0"},
	   {"uuid":"0c000000-0000-4000-8000-000000000004","type":"text","object_relation":"state","value":"Malicious"}],
	  "ObjectReference":[{"uuid":"0d000000-0000-4000-8000-000000000001","referenced_uuid":"0b000000-0000-4000-8000-000000000002","relationship_type":"drops"},
	                     {"uuid":"0d000000-0000-4000-8000-000000000002","referenced_uuid":"0a000000-0000-4000-8000-000000000001","relationship_type":"communicates-with"}]},
	 {"uuid":"0b000000-0000-4000-8000-000000000002","name":"domain-ip","Attribute":[
	   {"uuid":"0c000000-0000-4000-8000-000000000005","type":"domain","object_relation":"domain","value":"c2.example","to_ids":true},
	   {"uuid":"0c000000-0000-4000-8000-000000000006","type":"ip-dst","object_relation":"ip","value":"192.0.2.5","to_ids":true}]}]}}`)
	c := res.Counts
	if c.Attributes != 7 || c.Indicators != 3 || c.Observables != 3 || c.Notes != 1 || c.Skipped != 0 {
		t.Errorf("counts %+v", c)
	}
	files := objectsOf(t, res.Objects, "file")
	if len(files) != 1 || files[0]["name"] != "a.exe" || files[0]["size"] != float64(0) {
		t.Errorf("merged file: %v", files)
	}
	ins := objectsOf(t, res.Objects, "indicator")
	var objPattern string
	for _, in := range ins {
		if in["id"] == "indicator--0b000000-0000-4000-8000-000000000002" {
			objPattern = in["pattern"].(string)
		}
	}
	if objPattern != "[domain-name:value = 'c2.example'] AND [ipv4-addr:value = '192.0.2.5']" {
		t.Errorf("object pattern %q", objPattern)
	}
	rels := map[string]bool{}
	for _, r := range objectsOf(t, res.Objects, "relationship") {
		rels[r["source_ref"].(string)+" "+r["relationship_type"].(string)+" "+r["target_ref"].(string)] = true
	}
	for _, want := range []string{
		"observed-data--0b000000-0000-4000-8000-000000000001 drops indicator--0b000000-0000-4000-8000-000000000002",
		"observed-data--0b000000-0000-4000-8000-000000000001 communicates-with indicator--0a000000-0000-4000-8000-000000000001",
		"indicator--0a000000-0000-4000-8000-000000000001 indicates intrusion-set--68391641-859f-4a9a-9a1e-3e5cf71ec376",
	} {
		if !rels[want] {
			t.Errorf("missing relationship %s; have %v", want, rels)
		}
	}
	var attributed bool
	for r := range rels {
		attributed = attributed || strings.HasPrefix(r, "intrusion-set--68391641-859f-4a9a-9a1e-3e5cf71ec376 attributed-to threat-actor--")
	}
	if !attributed {
		t.Errorf("no attributed-to from the intrusion set: %v", rels)
	}
	sets := objectsOf(t, res.Objects, "intrusion-set")
	if len(sets) != 1 || sets[0]["name"] != "Lazarus Group" || len(sets[0]["aliases"].([]any)) != 2 {
		t.Errorf("intrusion sets %v", sets)
	}
	sg := objectsOf(t, res.Objects, "sighting")
	if len(sg) != 2 || c.Sightings != 2 {
		t.Fatalf("sightings %v", sg)
	}
	if sg[0]["sighting_of_ref"] != "indicator--0a000000-0000-4000-8000-000000000001" || sg[0]["where_sighted_refs"] == nil {
		t.Errorf("sighting %v", sg[0])
	}
	if sg[1]["labels"] == nil {
		t.Errorf("false positive sighting without its label: %v", sg[1])
	}
	if len(res.Warnings) == 0 {
		t.Error("the expiration sighting was dropped without a warning")
	}
}

func TestLimits(t *testing.T) {
	ev := `{"Event":{"uuid":"11111111-2222-4333-8444-555555555555","timestamp":"1","Attribute":[` +
		strings.Repeat(`{"type":"domain","value":"a.example"},`, 9) + `{"type":"domain","value":"a.example"}]}}`
	tests := []struct {
		name string
		in   string
		lim  Limits
		want error
		msg  string
	}{
		{"size", ev, Limits{MaxBytes: 100}, ErrLimit, "larger than 100 bytes"},
		{"attributes", ev, Limits{MaxAttributes: 5}, ErrLimit, "10 attributes, more than the limit of 5"},
		{"events", "[" + ev + "," + ev + "]", Limits{MaxEvents: 1}, ErrLimit, "more than 1 events"},
		{"value", ev, Limits{MaxValueBytes: 4}, ErrLimit, "value of 9 bytes"},
		{"not misp", `{"type":"bundle"}`, Limits{}, ErrFormat, "no uuid"},
		{"not json", `hello`, Limits{}, ErrFormat, "expected a JSON object or array"},
		{"bad to_ids", `{"Event":{"uuid":"11111111-2222-4333-8444-555555555555","Attribute":[{"to_ids":{}}]}}`, Limits{}, ErrFormat, "expected a string, number or boolean"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeEvents(strings.NewReader(tc.in), tc.lim)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestEventReportsAndPublication(t *testing.T) {
	const attrUUID, objUUID = "0a000000-0000-4000-8000-000000000001", "0b000000-0000-4000-8000-000000000001"
	event := func(published string) string {
		return `{"Event":{"uuid":"11111111-2222-4333-8444-555555555555","info":"t","timestamp":"1704200000",` + published + `
		"distribution":"1","Orgc":{"uuid":"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee","name":"CERT-X"},"Tag":[{"name":"PAP:GREEN"}],
		"Attribute":[{"uuid":"` + attrUUID + `","type":"ip-dst","value":"198.51.100.7","to_ids":true}],
		"Object":[{"uuid":"` + objUUID + `","name":"domain-ip","Attribute":[
			{"uuid":"0a000000-0000-4000-8000-000000000002","type":"domain","object_relation":"domain","value":"evil.example","to_ids":true}]}],
		"EventReport":[
			{"uuid":"0c000000-0000-4000-8000-000000000001","name":"Analysis","timestamp":"1704200100","distribution":"0",
			 "content":"# Findings\nThe actor used @[attribute](` + attrUUID + `) and @[object](` + objUUID + `), and @[attribute](` + attrUUID + `) again; @[attribute](0a000000-0000-4000-8000-0000000000ff) is not in the event."},
			{"uuid":"0c000000-0000-4000-8000-000000000002","name":"Old draft","content":"gone","deleted":true},
			{"uuid":"0c000000-0000-4000-8000-000000000003","name":"","content":"  "}]}}`
	}
	t.Run("unpublished", func(t *testing.T) {
		res := convertJSON(t, event(`"published":false,`))
		if res.Counts.EventReports != 1 {
			t.Fatalf("event reports written %d, want 1; warnings %v", res.Counts.EventReports, res.Warnings)
		}
		if w := strings.Join(res.Warnings, "\n"); !strings.Contains(w, "0c000000-0000-4000-8000-000000000002 (Old draft): deleted") ||
			!strings.Contains(w, "0c000000-0000-4000-8000-000000000003 (): empty") {
			t.Errorf("warnings %q do not name the deleted and the empty event report", w)
		}
		notes := objectsOf(t, res.Objects, "note")
		var note map[string]any
		for _, n := range notes {
			if n["id"] == "note--0c000000-0000-4000-8000-000000000001" {
				note = n
			}
		}
		if note == nil {
			t.Fatalf("no note for the event report among %v", notes)
		}
		wantRefs := []any{res.ReportID, "indicator--" + attrUUID, "indicator--" + objUUID}
		if refs, _ := note["object_refs"].([]any); !slices.Equal(refs, wantRefs) {
			t.Errorf("note refs %v, want %v", refs, wantRefs)
		}
		if note["abstract"] != "Analysis" || !strings.HasPrefix(note["content"].(string), "# Findings") ||
			note["modified"] != "2024-01-02T12:55:00.000Z" {
			t.Errorf("note %v", note)
		}
		if marks, _ := note["object_marking_refs"].([]any); !slices.Contains(marks, any(policy.MarkingOrganisation)) {
			t.Errorf("note markings %v: the event report's own distribution (organisation) is narrower than the event's", marks)
		}
		rep := objectsOf(t, res.Objects, "report")[0]
		if labels, _ := rep["labels"].([]any); !slices.Contains(labels, any(labelUnpublished)) {
			t.Errorf("report labels %v: no %s", labels, labelUnpublished)
		}
		if refs, _ := rep["object_refs"].([]any); !slices.Contains(refs, any("note--0c000000-0000-4000-8000-000000000001")) {
			t.Errorf("report refs %v do not list the note", refs)
		}

		back, err := FromSTIX(res.Objects)
		if err != nil {
			t.Fatal(err)
		}
		ev := back.Events[0]
		if ev.Published.Bool() || ev.PublishTimestamp != "" {
			t.Errorf("came back published=%q publish_timestamp=%q", ev.Published, ev.PublishTimestamp)
		}
		for _, tag := range ev.Tag {
			if strings.HasPrefix(tag.Name, "misp:") {
				t.Errorf("mapping label came back as tag %q", tag.Name)
			}
		}
		if len(ev.EventReport) != 1 {
			t.Fatalf("event reports back: %+v", ev.EventReport)
		}
		er := ev.EventReport[0]
		if er.UUID != "0c000000-0000-4000-8000-000000000001" || er.Name != "Analysis" || !strings.Contains(er.Content, "@[object]("+objUUID+")") ||
			er.Distribution != "0" || er.Timestamp != "1704200100" {
			t.Errorf("event report back: %+v", er)
		}
		for _, a := range ev.Attribute {
			if a.Type == "comment" {
				t.Errorf("the event report also came back as a comment attribute: %+v", a)
			}
		}
	})
	t.Run("published", func(t *testing.T) {
		res := convertJSON(t, event(`"published":true,"publish_timestamp":"1704300000",`))
		rep := objectsOf(t, res.Objects, "report")[0]
		if labels, _ := rep["labels"].([]any); slices.Contains(labels, any(labelUnpublished)) || rep["published"] != "2024-01-03T16:40:00.000Z" {
			t.Errorf("report labels %v, published %v", labels, rep["published"])
		}
		back, err := FromSTIX(res.Objects)
		if err != nil {
			t.Fatal(err)
		}
		if ev := back.Events[0]; !ev.Published.Bool() || ev.PublishTimestamp != "1704300000" {
			t.Errorf("came back published=%q publish_timestamp=%q", ev.Published, ev.PublishTimestamp)
		}
	})
}
