package stix

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/renkei-cti/renkei/internal/testdata"
)

// The OASIS STIX 2.1 JSON schemas name themselves under this prefix; the test maps it to the
// local copy in the shared test data.
const schemaPrefix = "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/"

// localLoader serves the schemas' $id URLs from a local folder.
type localLoader struct{ dir string }

func (l localLoader) Load(url string) (any, error) {
	rel, ok := strings.CutPrefix(url, schemaPrefix)
	if !ok {
		rel, ok = strings.CutPrefix(strings.Replace(url, "https://", "http://", 1), schemaPrefix)
	}
	if !ok {
		return nil, fmt.Errorf("schema %s is outside %s", url, schemaPrefix)
	}
	f, err := os.Open(filepath.Join(l.dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}

// schemaSet compiles the schema of each object type on first use.
type schemaSet struct {
	mu       sync.Mutex
	compiler *jsonschema.Compiler
	cache    map[string]*jsonschema.Schema
}

func newSchemaSet(t *testing.T) *schemaSet {
	t.Helper()
	dir := testdata.Path(t, "stix-schemas", "schemas")
	c := jsonschema.NewCompiler()
	c.UseLoader(localLoader{dir: dir})
	return &schemaSet{compiler: c, cache: map[string]*jsonschema.Schema{}}
}

// schemaFile is the schema that describes an object of this type and kind.
func schemaFile(typ string, kind Kind) string {
	switch {
	case sdoTypes[typ]:
		return "sdos/" + typ + ".json"
	case sroTypes[typ]:
		return "sros/" + typ + ".json"
	case scoTypes[typ]:
		return "observables/" + typ + ".json"
	case metaTypes[typ]:
		return "common/" + typ + ".json"
	case kind == KindSCO:
		return "common/cyber-observable-core.json"
	}
	return "common/core.json"
}

func (s *schemaSet) validate(t *testing.T, typ string, kind Kind, raw []byte) error {
	t.Helper()
	file := schemaFile(typ, kind)
	s.mu.Lock()
	sch, ok := s.cache[file]
	if !ok {
		var err error
		sch, err = s.compiler.Compile(schemaPrefix + file)
		if err != nil {
			s.mu.Unlock()
			t.Fatalf("compile %s: %v", file, err)
		}
		s.cache[file] = sch
	}
	s.mu.Unlock()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return sch.Validate(inst)
}

// TestSchemaCrossCheck validates the 2.1 objects our validator accepts against the OASIS JSON
// schema of their type: the two must agree.
func TestSchemaCrossCheck(t *testing.T) {
	schemas := newSchemaSet(t)
	sets := map[string][][]byte{"examples": exampleObjects(t)}
	for _, c := range specSCOExamples {
		if !strings.Contains(c.raw, " ...") { // the artifact's payload is elided in the specification
			sets["spec SCO examples"] = append(sets["spec SCO examples"], []byte(c.raw))
		}
	}
	for _, m := range BuiltinMarkings() {
		sets["builtin markings"] = append(sets["builtin markings"], m.JSON)
	}
	if testing.Short() {
		t.Log("ATT&CK ICS skipped in -short mode")
	} else {
		sets["ics-attack"] = bundleFile(t, testdata.Path(t, "attack", "ics-attack.json.gz"))
	}
	for name, objs := range sets {
		t.Run(name, func(t *testing.T) {
			checked := 0
			for _, raw := range objs {
				obj, err := Decode(raw)
				if err != nil {
					t.Errorf("rejected by Decode: %v", err)
					continue
				}
				if obj.SpecVersion != SpecVersion21 {
					continue
				}
				if err := schemas.validate(t, obj.Type, obj.Kind, raw); err != nil {
					t.Errorf("%s accepted by Decode but not by the OASIS schema %s: %v", obj.ID, schemaFile(obj.Type, obj.Kind), err)
				}
				checked++
			}
			if checked == 0 {
				t.Fatal("no 2.1 object checked")
			}
			t.Logf("%d objects agree with the OASIS schemas", checked)
		})
	}
}

// TestSchemaRejectsInvalidVariants checks, for invalid variants that the OASIS schemas can express,
// that the schema rejects them as Decode does.
func TestSchemaRejectsInvalidVariants(t *testing.T) {
	schemas := newSchemaSet(t)
	cases := []struct {
		name string
		obj  map[string]any
	}{
		{"missing pattern", with(validIndicator, "pattern", nil)},
		{"id without UUID", with(validIndicator, "id", "indicator--1234")},
		{"confidence above 100", with(validIndicator, "confidence", 101)},
		{"custom property in upper case", with(validIndicator, "X_acme_score", 1)},
		{"reserved property name", with(validIndicator, "severity", "high")},
		{"empty list", with(validIndicator, "labels", []any{})},
		{"created without milliseconds", with(validIndicator, "created", "2016-04-06T20:03:48Z")},
		{"kill chain phase without phase_name", with(validIndicator, "kill_chain_phases", []any{map[string]any{"kill_chain_name": "lockheed"}})},
		{"relationship to a marking definition", with(validRelationship, "target_ref", TLP1Red)},
		{"sighting where_sighted_refs to malware", with(validSighting, "where_sighted_refs", []any{"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"})},
		{"observed-data number_observed 0", with(validObservedData, "number_observed", 0)},
		{"ipv4 value not an address", with(baseIPv4, "value", "198.51.100.300")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := []byte(text(t, c.obj))
			if _, err := Decode(raw); err == nil {
				t.Fatal("accepted by Decode")
			}
			typ := c.obj["type"].(string)
			if err := schemas.validate(t, typ, builtinTypes[typ].kind, raw); err == nil {
				t.Errorf("accepted by the OASIS schema %s", schemaFile(typ, builtinTypes[typ].kind))
			}
		})
	}
}
