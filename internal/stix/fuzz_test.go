package stix

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode feeds Decode arbitrary bytes. It must never panic; an accepted object must have an id,
// a type and Raw equal to the input (the same bytes, unmodified); a rejected one must come with a
// *ValidationError that lists at least one problem.
func FuzzDecode(f *testing.F) {
	for _, raw := range exampleObjects(f) {
		f.Add(raw)
	}
	for _, c := range specSCOExamples {
		f.Add([]byte(c.raw))
	}
	for _, m := range BuiltinMarkings() {
		f.Add(m.JSON)
	}
	f.Add([]byte(`{"type":"observed-data","id":"observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf","created":"2016-04-06T19:58:16.000Z","modified":"2016-04-06T19:58:16.000Z","first_observed":"2015-12-21T19:00:00Z","last_observed":"2015-12-21T19:00:00Z","number_observed":1,"objects":{"0":{"type":"ipv4-addr","value":"198.51.100.3"}}}`))
	f.Add([]byte(`{"type":"x-acme","id":"x-acme--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","x_a_refs":["identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",""],"x_b":{"c_ref":"x"}}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		before := bytes.Clone(raw)
		obj, err := Decode(raw)
		if !bytes.Equal(raw, before) {
			t.Fatal("Decode modified its input")
		}
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 || obj != nil {
				t.Fatalf("bad rejection: %T %v %v", err, err, obj)
			}
			for _, p := range ve.Problems {
				if p.Path == "" || p.Path[0] != '$' || p.Rule == "" || p.Message == "" {
					t.Fatalf("incomplete problem %+v", p)
				}
			}
			return
		}
		if obj.ID == "" || obj.Type == "" {
			t.Fatalf("accepted without id or type: %+v", obj)
		}
		if !bytes.Equal(obj.Raw, raw) || len(raw) > 0 && &obj.Raw[0] != &raw[0] {
			t.Fatal("Raw is not the input")
		}
		if idType(obj.ID) != obj.Type {
			t.Fatalf("id %s does not name type %s", obj.ID, obj.Type)
		}
		for _, e := range obj.Edges {
			if checkID(e.Target, "") != "" || e.Type == "" {
				t.Fatalf("bad edge %+v", e)
			}
		}
		if _, err := Digest(raw); err != nil {
			t.Fatalf("accepted object has no digest: %v", err)
		}
	})
}

// TestOddShapes decodes objects whose properties have unexpected JSON types, which must be
// rejected without a panic.
func TestOddShapes(t *testing.T) {
	values := []string{`5`, `"x"`, `true`, `null`, `[]`, `{}`, `[1]`, `{"a":1}`, `-0.5e3`, `""`}
	names := []string{"type", "id", "spec_version", "created", "modified", "created_by_ref", "definition_type",
		"definition", "extensions", "granular_markings", "external_references", "kill_chain_phases", "hashes",
		"objects", "object_refs", "contents", "values", "body_multipart", "x509_v3_extensions", "is_family",
		"relationship_type", "source_ref", "value", "number", "is_multipart", "defanged", "x_custom_ref"}
	bases := []map[string]any{validIndicator, validRelationship, validMarking, baseIPv4, validEmailMessage,
		validObservedData, validLocation}
	for _, base := range bases {
		for _, name := range names {
			for _, val := range values {
				raw := text(t, with(base, name, rawJSON(val)))
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Fatalf("panic on %s: %v", raw, r)
						}
					}()
					if _, err := Decode([]byte(raw)); err != nil {
						var ve *ValidationError
						if !errors.As(err, &ve) {
							t.Fatalf("%s: %T %v", raw, err, err)
						}
					}
				}()
			}
		}
	}
	for _, id := range []string{TLP1White, TLP2Red} {
		for _, val := range values {
			raw := `{"type":"marking-definition","spec_version":"2.1","id":"` + id + `","created":"2017-01-20T00:00:00.000Z","definition_type":` + val + `,"definition":{"tlp":` + val + `},"extensions":{"` + TLP2ExtensionID + `":{"extension_type":"property-extension","tlp_2_0":` + val + `}}}`
			if _, err := Decode([]byte(raw)); err == nil {
				t.Errorf("accepted %s", raw)
			}
		}
	}
}
