package misp

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/formats/export"
	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
)

// exportEvent is a MISP event with one of each thing the export maps: attributes with and
// without to_ids, a file object with a reference to an attribute, a sighting, a threat-actor
// cluster on an attribute, a TLP:RED attribute and a PAP tag.
const exportEvent = `{"Event":{"uuid":"5a5a0000-0000-4000-8000-000000000001","info":"Export test","date":"2024-01-02",
 "timestamp":"1704200000","published":true,"publish_timestamp":"1704200100","distribution":"1",
 "Orgc":{"uuid":"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee","name":"CERT-X"},"Tag":[{"name":"tlp:green"},{"name":"PAP:GREEN"}],
 "Attribute":[
  {"uuid":"5a5a0000-0000-4000-8000-0000000000a1","type":"ip-dst","category":"Network activity","value":"198.51.100.7","to_ids":true,"timestamp":"1704200000",
   "Sighting":[{"uuid":"5a5a0000-0000-4000-8000-0000000000f1","type":"0","date_sighting":"1704300000","Organisation":{"uuid":"bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee","name":"CERT-Y"}}],
   "Galaxy":[{"type":"threat-actor","name":"Threat Actor","GalaxyCluster":[{"uuid":"68391641-859f-4a9a-9a1e-3e5cf71ec376","value":"Lazarus Group","type":"threat-actor"}]}]},
  {"uuid":"5a5a0000-0000-4000-8000-0000000000a2","type":"domain","category":"Network activity","value":"seen.example","to_ids":false,"timestamp":"1704200000"},
  {"uuid":"5a5a0000-0000-4000-8000-0000000000a3","type":"url","category":"Network activity","value":"https://red.example/x","to_ids":true,"timestamp":"1704200000","Tag":[{"name":"tlp:red"}]},
  {"uuid":"5a5a0000-0000-4000-8000-0000000000a4","type":"text","category":"Other","value":"some context","to_ids":false,"timestamp":"1704200000"},
  {"uuid":"5a5a0000-0000-4000-8000-0000000000a5","type":"yara","category":"Payload installation","value":"rule x { condition: true }","to_ids":true,"timestamp":"1704200000"}],
 "Object":[{"uuid":"5a5a0000-0000-4000-8000-0000000000b1","name":"file","meta-category":"file","timestamp":"1704200000",
   "Attribute":[
    {"uuid":"5a5a0000-0000-4000-8000-0000000000c1","type":"filename","category":"Payload delivery","object_relation":"filename","value":"drop.exe","to_ids":false},
    {"uuid":"5a5a0000-0000-4000-8000-0000000000c2","type":"md5","category":"Payload delivery","object_relation":"md5","value":"0123456789abcdef0123456789abcdef","to_ids":true}],
   "ObjectReference":[{"uuid":"5a5a0000-0000-4000-8000-0000000000d1","object_uuid":"5a5a0000-0000-4000-8000-0000000000b1",
     "referenced_uuid":"5a5a0000-0000-4000-8000-0000000000a1","relationship_type":"communicates-with"}]}]}}`

func convertEvent(t *testing.T, data string) (*Event, *Result) {
	t.Helper()
	evs, err := DecodeEvents(strings.NewReader(data), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ToSTIX(evs[0], Options{})
	if err != nil {
		t.Fatal(err)
	}
	return evs[0], res
}

func exportObjects(raws [][]byte) []ExportObject {
	out := make([]ExportObject, len(raws))
	for i, r := range raws {
		out[i] = ExportObject{Raw: r}
	}
	return out
}

func findAttr(ev *Event, uuid string) *Attribute {
	for i := range ev.Attribute {
		if ev.Attribute[i].UUID == uuid {
			return &ev.Attribute[i]
		}
	}
	return nil
}

func tagNames(tags []Tag) []string {
	var out []string
	for _, t := range tags {
		out = append(out, t.Name)
	}
	return out
}

// TestExportEventOfOneReport: the STIX of one MISP event comes back as that event, with its
// references, sightings and clusters, and the same bytes whatever the order of the objects.
func TestExportEventOfOneReport(t *testing.T) {
	orig, res := convertEvent(t, exportEvent)
	out, err := ExportEvent(exportObjects(res.Objects), EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Events) != 1 {
		t.Fatalf("%d events", len(out.Events))
	}
	ev := out.Events[0]
	if ev.UUID != orig.UUID || ev.Info != orig.Info || ev.Date != "2024-01-02" || ev.Timestamp != "1704200000" ||
		ev.PublishTimestamp != "1704200100" || ev.Distribution != "1" || ev.Orgc == nil || ev.Orgc.Name != "CERT-X" {
		t.Errorf("event %s %q date %s ts %s pub %s dist %s orgc %+v", ev.UUID, ev.Info, ev.Date, ev.Timestamp, ev.PublishTimestamp, ev.Distribution, ev.Orgc)
	}
	if tags := tagNames(ev.Tag); !slices.Contains(tags, "tlp:green") || !slices.Contains(tags, "PAP:GREEN") {
		t.Errorf("event tags %v", tags)
	}
	ip := findAttr(ev, "5a5a0000-0000-4000-8000-0000000000a1")
	switch {
	case ip == nil:
		t.Fatal("ip-dst attribute lost")
	case ip.Type != "ip-dst" || ip.Value != "198.51.100.7" || !ip.ToIDs.Bool():
		t.Errorf("ip attribute %+v", ip)
	case len(ip.Sighting) != 1 || ip.Sighting[0].UUID != "5a5a0000-0000-4000-8000-0000000000f1" || ip.Sighting[0].DateSighting != "1704300000" ||
		ip.Sighting[0].Organisation == nil || ip.Sighting[0].Organisation.UUID != "bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee":
		t.Errorf("sightings %+v", ip.Sighting)
	case !slices.Contains(tagNames(ip.Tag), `misp-galaxy:threat-actor="Lazarus Group"`):
		t.Errorf("ip tags %v: the cluster it indicates is lost", tagNames(ip.Tag))
	}
	if red := findAttr(ev, "5a5a0000-0000-4000-8000-0000000000a3"); red == nil || !slices.Contains(tagNames(red.Tag), "tlp:red") {
		t.Errorf("the RED attribute lost its own TLP tag: %+v", red)
	}
	if y := findAttr(ev, "5a5a0000-0000-4000-8000-0000000000a5"); y == nil || y.Type != "yara" || !y.ToIDs.Bool() {
		t.Errorf("yara attribute %+v", y)
	}
	if len(ev.Object) != 1 || len(ev.Object[0].ObjectReference) != 1 {
		t.Fatalf("objects %+v", ev.Object)
	}
	ref := ev.Object[0].ObjectReference[0]
	if ref.UUID != "5a5a0000-0000-4000-8000-0000000000d1" || ref.ObjectUUID != "5a5a0000-0000-4000-8000-0000000000b1" ||
		ref.ReferencedUUID != "5a5a0000-0000-4000-8000-0000000000a1" || ref.RelationshipType != "communicates-with" {
		t.Errorf("reference %+v", ref)
	}
	if len(ev.Galaxy) != 1 || len(ev.Galaxy[0].GalaxyCluster) != 1 {
		t.Errorf("galaxies %+v", ev.Galaxy)
	}

	// Deterministic: the objects in reverse give the same bytes.
	b1, err := out.JSON()
	if err != nil {
		t.Fatal(err)
	}
	rev := slices.Clone(res.Objects)
	slices.Reverse(rev)
	out2, err := ExportEvent(exportObjects(rev), EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b2, err := out2.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1, b2) {
		t.Error("the same objects in another order give other bytes")
	}

	// And it imports again: every attribute comes back with its type, value and to_ids.
	back, err := DecodeEvents(bytes.NewReader(b1), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	res2, err := ToSTIX(back[0], Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Counts.Skipped != 0 || res2.Counts.Attributes != res.Counts.Attributes {
		t.Errorf("re-import: %+v, first import %+v (skipped %v)", res2.Counts, res.Counts, res2.Skipped)
	}
}

// stixObj makes a STIX object of the given type and id with extra properties.
func stixObj(typ, id, extra string) []byte {
	head := fmt.Sprintf(`{"type":%q,"spec_version":"2.1","id":"%s--%s"`, typ, typ, id)
	if !isSCOType(typ) {
		head += `,"created":"2024-03-01T00:00:00.000Z","modified":"2024-03-01T00:00:00.000Z"`
	}
	if extra != "" {
		head += "," + extra
	}
	return []byte(head + "}")
}

// TestExportEventOfManyObjects: objects that are not one report's make a synthetic event.
func TestExportEventOfManyObjects(t *testing.T) {
	objs := [][]byte{
		stixObj("report", "00000000-0000-4000-8000-000000000001", `"name":"First","description":"About the first.","published":"2024-03-01T00:00:00Z","report_types":["threat-report"],"object_refs":["indicator--00000000-0000-4000-8000-000000000010"]`),
		stixObj("report", "00000000-0000-4000-8000-000000000002", `"name":"Second","published":"2024-03-01T00:00:00Z","report_types":["threat-report"],"object_refs":["indicator--00000000-0000-4000-8000-000000000010"]`),
		stixObj("indicator", "00000000-0000-4000-8000-000000000010", `"pattern":"[domain-name:value = 'evil.example']","pattern_type":"stix","valid_from":"2024-03-01T00:00:00Z","valid_until":"2025-03-01T00:00:00Z","object_marking_refs":["`+stix.TLP2Green+`","`+policy.MarkingAll+`"]`),
		stixObj("indicator", "00000000-0000-4000-8000-000000000011", `"pattern":"[ipv4-addr:value = '192.0.2.9'] FOLLOWEDBY [ipv4-addr:value = '192.0.2.10']","pattern_type":"stix","valid_from":"2024-03-01T00:00:00Z"`),
		stixObj("indicator", "00000000-0000-4000-8000-000000000012", `"pattern":"index=x","pattern_type":"splunk","valid_from":"2024-03-01T00:00:00Z"`),
		stixObj("ipv4-addr", "00000000-0000-4000-8000-000000000020", `"value":"203.0.113.5"`),
		stixObj("url", "00000000-0000-4000-8000-000000000021", `"value":"https://x.example/a"`),
		stixObj("observed-data", "00000000-0000-4000-8000-000000000030", `"first_observed":"2024-03-01T00:00:00Z","last_observed":"2024-03-02T00:00:00Z","number_observed":1,"object_refs":["url--00000000-0000-4000-8000-000000000021"],"object_marking_refs":["`+stix.TLP2Amber+`"]`),
		stixObj("relationship", "00000000-0000-4000-8000-000000000040", `"relationship_type":"related-to","source_ref":"indicator--00000000-0000-4000-8000-000000000010","target_ref":"observed-data--00000000-0000-4000-8000-000000000030"`),
		stixObj("malware", "00000000-0000-4000-8000-000000000050", `"name":"x","is_family":true`),
	}
	for _, o := range objs {
		if _, err := stix.Decode(o); err != nil {
			t.Fatalf("test object: %v\n%s", err, o)
		}
	}
	out, err := ExportEvent(exportObjects(objs), EventOptions{Info: "weekly"})
	if err != nil {
		t.Fatal(err)
	}
	ev := out.Events[0]
	if ev.Info != "weekly" || ev.Date != "2024-03-01" || ev.Timestamp != "1709251200" || ev.Published != "false" || ev.Orgc != nil {
		t.Errorf("event %q date %s ts %s published %s orgc %v", ev.Info, ev.Date, ev.Timestamp, ev.Published, ev.Orgc)
	}
	// The widest distribution of the objects (all), the lowest TLP (GREEN); the amber observation
	// keeps its own tag, and what has no distribution marking is the organisation's only.
	if ev.Distribution != "3" || !slices.Equal(tagNames(ev.Tag), []string{"tlp:green"}) {
		t.Errorf("event distribution %s tags %v", ev.Distribution, tagNames(ev.Tag))
	}
	dom := findAttr(ev, "00000000-0000-4000-8000-000000000010")
	if dom == nil || dom.Type != "domain" || dom.Distribution != "5" || dom.LastSeen != "2025-03-01T00:00:00Z" {
		t.Errorf("domain attribute %+v", dom)
	}
	if u := findAttr(ev, "00000000-0000-4000-8000-000000000030"); u == nil || u.Type != "url" || u.ToIDs.Bool() ||
		u.Distribution != "0" || !slices.Contains(tagNames(u.Tag), "tlp:amber") || u.LastSeen != "2024-03-02T00:00:00Z" {
		t.Errorf("observed url %+v", u)
	}
	if ip := findAttr(ev, "00000000-0000-4000-8000-000000000020"); ip == nil || ip.Type != "ip-dst" || ip.ToIDs.Bool() {
		t.Errorf("a lone SCO: %+v", ip)
	}
	if len(ev.EventReport) != 2 || ev.EventReport[0].Name != "First" || !strings.HasPrefix(ev.EventReport[0].Content, "About the first.") {
		t.Errorf("event reports %+v", ev.EventReport)
	}
	wantSkipped := []string{
		"indicator--00000000-0000-4000-8000-000000000011",    // FOLLOWEDBY
		"indicator--00000000-0000-4000-8000-000000000012",    // splunk
		"malware--00000000-0000-4000-8000-000000000050",      // no MISP equivalent
		"relationship--00000000-0000-4000-8000-000000000040", // from an attribute
	}
	var skipped []string
	for _, s := range out.Skipped {
		id, _, _ := strings.Cut(s, ": ")
		skipped = append(skipped, id)
	}
	slices.Sort(skipped)
	if !slices.Equal(skipped, wantSkipped) {
		t.Errorf("skipped %v, want %v", out.Skipped, wantSkipped)
	}

	// The uuid is derived from the objects: the same objects give it again, others another; a
	// given uuid wins.
	again, err := ExportEvent(exportObjects(objs[1:]), EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Events[0].UUID == ev.UUID {
		t.Error("other objects, same event uuid")
	}
	same, err := ExportEvent(exportObjects(objs), EventOptions{Info: "other info"})
	if err != nil {
		t.Fatal(err)
	}
	if same.Events[0].UUID != ev.UUID {
		t.Error("the same objects gave another event uuid")
	}
	fixed, err := ExportEvent(exportObjects(objs), EventOptions{UUID: "0D5F57E4-6C7A-4E33-9A51-6E1B9E1D2B33"})
	if err != nil {
		t.Fatal(err)
	}
	if fixed.Events[0].UUID != "0d5f57e4-6c7a-4e33-9a51-6e1b9e1d2b33" {
		t.Errorf("event uuid %s", fixed.Events[0].UUID)
	}
	if _, err := ExportEvent(exportObjects(objs), EventOptions{UUID: "nope"}); err == nil {
		t.Error("a bad uuid was accepted")
	}
	if _, err := ExportEvent(exportObjects(append(objs, objs[0])), EventOptions{}); err == nil {
		t.Error("an object given twice was accepted")
	}
}

// TestExportSharingGroup: an event distributed to a sharing group comes back with the group
// (uuid, owner, members), since the marking definition travels with the objects.
func TestExportSharingGroup(t *testing.T) {
	data := strings.Replace(exportEvent, `"distribution":"1",`, `"distribution":"4","sharing_group_id":"7",
 "SharingGroup":{"uuid":"5c5c0000-0000-4000-8000-000000000001","name":"Finance ISAC","Organisation":{"uuid":"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"},
  "SharingGroupOrg":[{"Organisation":{"uuid":"bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee"}}]},`, 1)
	_, res := convertEvent(t, data)
	out, err := ExportEvent(exportObjects(res.Objects), EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ev := out.Events[0]
	sg := ev.SharingGroup
	if ev.Distribution != "4" || sg == nil || sg.UUID != "5c5c0000-0000-4000-8000-000000000001" || sg.Name != "Finance ISAC" ||
		len(sg.SharingGroupOrg) != 1 || sg.SharingGroupOrg[0].Organisation.UUID != "bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee" {
		t.Fatalf("distribution %s group %+v", ev.Distribution, sg)
	}
	// Without the marking definition, the group is unknown: the narrowest distribution.
	var noDef [][]byte
	for _, o := range res.Objects {
		if !bytes.Contains(o, []byte(`"type":"marking-definition"`)) {
			noDef = append(noDef, o)
		}
	}
	out, err = ExportEvent(exportObjects(noDef), EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ev := out.Events[0]; ev.Distribution != "0" || ev.SharingGroup != nil {
		t.Errorf("without the group's definition: distribution %s group %+v", ev.Distribution, ev.SharingGroup)
	}
}

// TestExportRoundTripThroughTheStore: MISP → STIX → store → export.CollectObjects → ExportEvent →
// the MISP decoder gives back every attribute (type, value, to_ids) that has a STIX equivalent and
// that the export may carry, for every shared MISP event and the test event above.
func TestExportRoundTripThroughTheStore(t *testing.T) {
	type source struct {
		name string
		evs  []*Event
	}
	evs, err := DecodeEvents(strings.NewReader(exportEvent), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	sources := []source{{"export-test", evs}}
	for _, path := range sharedEvents(t) {
		sources = append(sources, source{filepath.Base(path), decodeFile(t, path)})
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			for _, ev := range src.evs {
				roundTripThroughStore(t, ev, now)
			}
		})
	}
}

func roundTripThroughStore(t *testing.T, ev *Event, now time.Time) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "renkei.db"), sqlite.WithLabeler(policy.Labeler{}))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res, err := ToSTIX(ev, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ingest.New(st, nil).Import(ctx, bytes.NewReader(res.Bundle()), ingest.Options{})
	if err != nil || rep.Rejected > 0 {
		t.Fatalf("import: %v %+v", err, rep.Errors)
	}
	set, err := export.CollectObjects(ctx, st.Scan(ctx, store.Filter{Types: ExportTypes()}),
		export.Options{Now: now, Internal: true, DefaultTLP: policy.DefaultTLP})
	if err != nil {
		t.Fatal(err)
	}
	b, xrep, err := WriteExport(set, EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeEvents(bytes.NewReader(b), Limits{})
	if err != nil {
		t.Fatalf("our export does not decode: %v", err)
	}
	got := back[0]
	if got.UUID != ev.UUID {
		t.Errorf("event %s came back as %s", ev.UUID, got.UUID)
	}
	if got.Published.Bool() != ev.Published.Bool() || len(got.EventReport) != len(ev.EventReport) {
		t.Errorf("event %s published=%q with %d event reports came back published=%q with %d", ev.UUID, ev.Published,
			len(ev.EventReport), got.Published, len(got.EventReport))
	}
	// What the export left out (expired indicators, with the clock at 2030) and what ToSTIX skipped
	// are not expected back.
	gone := map[string]bool{}
	for _, s := range res.Skipped {
		gone[s.Attribute] = true
	}
	for _, s := range xrep.Skips {
		gone[idUUID(s.ID)] = true
	}
	key := func(a Attribute) string {
		v := a.Value
		if strings.HasPrefix(a.Type, "regkey") {
			v = expandHive(v)
		}
		return fmt.Sprintf("%s|%s|to_ids=%v", a.Type, v, a.ToIDs.Bool())
	}
	var want, have []string
	for _, a := range ev.Attribute {
		if gone[strings.ToLower(a.UUID)] || a.Deleted.Bool() || a.Type == "link" {
			continue
		}
		if typeSpecs()[a.Type].paths == nil && patternTypes[a.Type] == "" {
			a.ToIDs = "false" // kept as a note: no pattern, no to_ids
		}
		want = append(want, key(a))
	}
	for _, a := range got.Attribute {
		if a.Type != "link" {
			have = append(have, key(a))
		}
	}
	slices.Sort(want)
	slices.Sort(have)
	for _, w := range want {
		if !slices.Contains(have, w) {
			t.Errorf("lost: %s", w)
		}
	}
	for _, h := range have {
		if !slices.Contains(want, h) {
			t.Errorf("gained: %s", h)
		}
	}
	// Object attributes: every value mapped to STIX comes back in the object of the same uuid.
	for _, o := range ev.Object {
		var vals []string
		for _, bo := range got.Object {
			if bo.UUID == strings.ToLower(o.UUID) {
				for _, a := range bo.Attribute {
					vals = append(vals, a.Value)
				}
			}
		}
		for _, a := range o.Attribute {
			if gone[strings.ToLower(a.UUID)] || gone[strings.ToLower(o.UUID)] || a.Deleted.Bool() || o.Deleted.Bool() {
				continue
			}
			if !slices.Contains(vals, a.Value) {
				t.Errorf("object %s (%s): attribute %s %q lost", o.UUID, o.Name, a.Type, a.Value)
			}
		}
	}
}
