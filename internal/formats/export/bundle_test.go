package export

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/renkei-cti/renkei/internal/stix"
)

func TestWriteBundle(t *testing.T) {
	a := `{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000001","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-02T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}`
	b := `{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--00000000-0000-4000-8000-000000000002","value":"198.51.100.2"}`
	set := &ObjectSet{Objects: []Object{
		{ID: "indicator--00000000-0000-4000-8000-000000000001", Modified: "2024-01-02T00:00:00.000Z", Raw: []byte(a)},
		{ID: "ipv4-addr--00000000-0000-4000-8000-000000000002", Raw: []byte(b)},
	}}
	var out1, out2 bytes.Buffer
	if err := WriteBundle(&out1, set); err != nil {
		t.Fatal(err)
	}
	if err := WriteBundle(&out2, set); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out1.Bytes(), out2.Bytes()) {
		t.Error("the same set gave different bytes")
	}
	// The bundle is a STIX bundle of valid objects, each with its bytes as given.
	var bundle struct {
		Type    string            `json:"type"`
		ID      string            `json:"id"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(out1.Bytes(), &bundle); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out1.Bytes())
	}
	if bundle.Type != "bundle" || !strings.HasPrefix(bundle.ID, "bundle--") || len(bundle.Objects) != 2 {
		t.Errorf("bundle %q %q with %d objects", bundle.Type, bundle.ID, len(bundle.Objects))
	}
	for _, o := range bundle.Objects {
		if _, err := stix.Decode(o); err != nil {
			t.Errorf("object not valid: %v", err)
		}
	}
	for _, raw := range []string{a, b} {
		if !bytes.Contains(out1.Bytes(), []byte(raw)) {
			t.Errorf("the bundle does not hold %s as given", raw)
		}
	}
	// Another version of an object gives another bundle id.
	set.Objects[0].Modified = "2024-01-03T00:00:00.000Z"
	var out3 bytes.Buffer
	if err := WriteBundle(&out3, set); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(out1.Bytes()[:60], out3.Bytes()[:60]) {
		t.Errorf("the bundle id did not change with the versions:\n%s\n%s", out1.Bytes()[:60], out3.Bytes()[:60])
	}
}
