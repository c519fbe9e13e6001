package misp

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/go-json-experiment/json"

	"github.com/renkei-cti/renkei/internal/testdata"
)

func feedEvent(uuid, ts, domain string) string {
	return `{"Event":{"uuid":"` + uuid + `","info":"e","timestamp":"` + ts + `","Attribute":[{"uuid":"` +
		strings.Replace(uuid, "1111", "2222", 1) + `","type":"domain","value":"` + domain + `","to_ids":true}]}}`
}

func TestReadFeedIncremental(t *testing.T) {
	const a, b = "11111111-0000-4000-8000-00000000000a", "11111111-0000-4000-8000-00000000000b"
	fsys := fstest.MapFS{
		"manifest.json": {Data: []byte(`{"` + a + `":{"timestamp":"100"},"` + b + `":{"timestamp":"200"},"not-a-uuid":{"timestamp":"1"}}`)},
		a + ".json":     {Data: []byte(feedEvent(a, "100", "a.example"))},
		b + ".json":     {Data: []byte(feedEvent(b, "200", "b.example"))},
	}
	state := &FeedState{}
	var got []string
	read := func(ctx context.Context, ev *Event) error { got = append(got, ev.UUID); return nil }
	rep, err := ReadFeed(t.Context(), FSFetcher{fsys}, state, Limits{}, read)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Listed != 3 || rep.Read != 2 || len(rep.Failed) != 1 || !slices.Equal(got, []string{a, b}) {
		t.Fatalf("first read: %+v, events %v", rep, got)
	}
	// The state survives a save and load; a second read fetches nothing.
	var buf bytes.Buffer
	if err := state.Save(&buf); err != nil {
		t.Fatal(err)
	}
	state, err = LoadFeedState(&buf)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	rep, err = ReadFeed(t.Context(), FSFetcher{fsys}, state, Limits{}, read)
	if err != nil || rep.Read != 0 || rep.Unchanged != 2 || len(got) != 0 {
		t.Fatalf("second read: %+v, %v, events %v", rep, err, got)
	}
	// A newer timestamp for b: only b is read again.
	fsys["manifest.json"] = &fstest.MapFile{Data: []byte(`{"` + a + `":{"timestamp":"100"},"` + b + `":{"timestamp":"300"}}`)}
	fsys[b+".json"] = &fstest.MapFile{Data: []byte(feedEvent(b, "300", "c.example"))}
	rep, err = ReadFeed(t.Context(), FSFetcher{fsys}, state, Limits{}, read)
	if err != nil || rep.Read != 1 || !slices.Equal(got, []string{b}) {
		t.Fatalf("third read: %+v, %v, events %v", rep, err, got)
	}
	// A file that holds another event fails, and is not recorded.
	const c = "11111111-0000-4000-8000-00000000000c"
	fsys["manifest.json"] = &fstest.MapFile{Data: []byte(`{"` + c + `":{"timestamp":"1"}}`)}
	fsys[c+".json"] = &fstest.MapFile{Data: []byte(feedEvent(a, "1", "x.example"))}
	rep, err = ReadFeed(t.Context(), FSFetcher{fsys}, state, Limits{}, read)
	if err != nil || len(rep.Failed) != 1 || !strings.Contains(rep.Failed[0], "does not hold event") {
		t.Fatalf("mismatched file: %+v, %v", rep, err)
	}
	if _, ok := state.Events[c]; ok {
		t.Error("a failed event was recorded in the state")
	}
}

func TestGalaxyLazarus(t *testing.T) {
	f, err := os.Open(testdata.Path(t, "misp", "galaxy", "clusters", "threat-actor.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := DecodeGalaxy(f, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := g.ToSTIX()
	if err != nil {
		t.Fatal(err)
	}
	if objs.Clusters != len(g.Values) || len(objs.Skipped) != 0 {
		t.Errorf("%d of %d clusters converted; skipped %v", objs.Clusters, len(g.Values), objs.Skipped)
	}
	byID := decodeAll(t, objs.Objects)
	cl, ok := g.Find("Hidden Cobra") // a synonym
	if !ok || cl.Value != "Lazarus Group" {
		t.Fatalf("Find(Hidden Cobra) = %v, %v", cl, ok)
	}
	id := "intrusion-set--" + cl.UUID
	if byID[id] == nil {
		t.Fatalf("no %s", id)
	}
	var is struct {
		Name    string   `json:"name"`
		Aliases []string `json:"aliases"`
		Refs    []struct {
			URL string `json:"url"`
		} `json:"external_references"`
	}
	if err := json.Unmarshal(byID[id].Raw, &is); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Hidden Cobra", "Labyrinth Chollima", "APT38"} {
		if !slices.Contains(is.Aliases, want) {
			t.Errorf("Lazarus Group aliases %v lack %q", is.Aliases, want)
		}
	}
	if len(is.Refs) < 2 {
		t.Errorf("Lazarus Group has %d external references", len(is.Refs))
	}
	var attributed bool
	for _, o := range byID {
		for _, e := range o.Edges {
			attributed = attributed || (o.Type == "relationship" && e.Source == id && e.Type == "attributed-to")
		}
	}
	if !attributed {
		t.Error("Lazarus Group is not attributed-to its suspected state sponsor")
	}
	// A tag naming the cluster by a synonym resolves through the galaxy.
	res, err := ToSTIX(&Event{UUID: "11111111-2222-4333-8444-555555555555", Timestamp: "1", Orgc: &Org{UUID: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"},
		Tag: []Tag{{Name: `misp-galaxy:threat-actor="Hidden Cobra"`}}}, Options{Galaxy: g})
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts.IntrusionSets != 1 {
		t.Errorf("tag did not resolve: %+v %v", res.Counts, res.Warnings)
	}
}

// TestGoldenMISPSTIX compares with the misp-stix golden pairs semantically: the same event uuid as
// the container, the same patterns for the same attributes, the same SCO values. Differences in
// object layout are documented in docs/MISP.md.
func TestGoldenMISPSTIX(t *testing.T) {
	for _, pair := range [][2]string{{"test_events_collection_1.json", "test_event1_stix21.json"}, {"test_events_collection_2.json", "test_event2_stix21.json"}} {
		t.Run(pair[0], func(t *testing.T) {
			evs := decodeFile(t, testdata.Path(t, "misp", "events", "misp-stix", pair[0]))
			data, err := os.ReadFile(testdata.Path(t, "misp", "events", "misp-stix", pair[1]))
			if err != nil {
				t.Fatal(err)
			}
			var golden struct{ Objects []map[string]any }
			if err := json.Unmarshal(data, &golden, json.MatchCaseInsensitiveNames(true)); err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for _, o := range golden.Objects {
				switch o["type"] {
				case "indicator":
					want["pattern "+o["pattern"].(string)] = true
				case "domain-name", "ipv4-addr":
					want["value "+o["value"].(string)] = true
				case "autonomous-system":
					want["as "+jsonText(t, o["number"])] = true
				case "grouping":
					want["container "+strings.TrimPrefix(o["id"].(string), "grouping--")] = true
				}
			}
			have := map[string]bool{}
			for _, ev := range evs {
				res, err := ToSTIX(ev, Options{})
				if err != nil {
					t.Fatal(err)
				}
				have["container "+strings.TrimPrefix(res.ReportID, "report--")] = true
				for _, in := range objectsOf(t, res.Objects, "indicator") {
					have["pattern "+in["pattern"].(string)] = true
				}
				for _, typ := range []string{"domain-name", "ipv4-addr"} {
					for _, o := range objectsOf(t, res.Objects, typ) {
						have["value "+o["value"].(string)] = true
					}
				}
				for _, o := range objectsOf(t, res.Objects, "autonomous-system") {
					have["as "+jsonText(t, o["number"])] = true
				}
			}
			for k := range want {
				// misp-stix writes an SCO as well as an indicator for to_ids attributes; we write the
				// indicator only, so SCO values are checked through the patterns.
				if strings.HasPrefix(k, "value ") {
					v := strings.TrimPrefix(k, "value ")
					found := have[k]
					for h := range have {
						found = found || strings.HasPrefix(h, "pattern ") && strings.Contains(h, "'"+v+"'")
					}
					if !found {
						t.Errorf("golden %s not produced", k)
					}
					continue
				}
				if !have[k] {
					t.Errorf("golden %s not produced; have %v", k, have)
				}
			}
		})
	}
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
