package misp

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// attrKey is what a round trip must keep of an attribute.
func attrKey(a Attribute) string {
	v := a.Value
	if strings.HasPrefix(a.Type, "regkey") {
		v = expandHive(v)
	}
	return fmt.Sprintf("%s|%s|%s|to_ids=%v", a.Type, a.Category, v, a.ToIDs.Bool())
}

func TestRoundTripKeepsAttributes(t *testing.T) {
	for _, path := range sharedEvents(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			for _, ev := range decodeFile(t, path) {
				res, err := ToSTIX(ev, Options{})
				if err != nil {
					t.Fatal(err)
				}
				back, err := FromSTIX(res.Objects)
				if err != nil {
					t.Fatal(err)
				}
				if len(back.Events) != 1 {
					t.Fatalf("%d events back", len(back.Events))
				}
				got := back.Events[0]
				if got.UUID != ev.UUID || got.Info != ev.Info && ev.Info != "" {
					t.Errorf("event %s %q came back as %s %q", ev.UUID, ev.Info, got.UUID, got.Info)
				}
				if got.Published.Bool() != ev.Published.Bool() {
					t.Errorf("event %s published=%q came back published=%q", ev.UUID, ev.Published, got.Published)
				}
				skipped := map[string]bool{}
				for _, s := range res.Skipped {
					skipped[s.Attribute] = true
				}
				var want, have []string
				for _, a := range ev.Attribute {
					if skipped[a.UUID] || a.Deleted.Bool() {
						continue
					}
					if a.Category == "" {
						a.Category = typeSpecs()[a.Type].category
					}
					if a.Type == "link" {
						a.Category, a.ToIDs = "External analysis", "false" // links travel as external references
					}
					if !a.ToIDs.Bool() || (a.Type != "yara" && a.Type != "snort" && typeSpecs()[a.Type].paths == nil && a.Type != "link") {
						a.ToIDs = "false" // only indicators carry to_ids
					}
					want = append(want, attrKey(a))
				}
				for _, a := range got.Attribute {
					have = append(have, attrKey(a))
				}
				slices.Sort(want)
				slices.Sort(have)
				if !slices.Equal(want, have) {
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
				}
				// Object attributes: every value mapped to STIX comes back in an object of the same uuid.
				for _, o := range ev.Object {
					var back *Object
					for i := range got.Object {
						if got.Object[i].UUID == o.UUID {
							back = &got.Object[i]
						}
					}
					var vals []string
					if back != nil {
						for _, a := range back.Attribute {
							vals = append(vals, a.Value)
						}
					}
					for _, a := range o.Attribute {
						if skipped[a.UUID] || a.Deleted.Bool() {
							continue
						}
						if !slices.Contains(vals, a.Value) {
							t.Errorf("object %s (%s): attribute %s %q lost", o.UUID, o.Name, a.Type, a.Value)
						}
					}
				}
				if t.Failed() {
					t.Logf("FromSTIX skipped: %v", back.Skipped)
				}
			}
		})
	}
}
