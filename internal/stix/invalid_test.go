package stix

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// Valid objects the invalid variants start from.
var (
	validIndicator = map[string]any{
		"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
		"created_by_ref": "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",
		"created":        "2016-04-06T20:03:48.000Z", "modified": "2016-04-06T20:03:48.000Z",
		"name": "Poison Ivy Malware", "indicator_types": []any{"malicious-activity"},
		"pattern":      "[file:hashes.'SHA-256' = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']",
		"pattern_type": "stix", "valid_from": "2016-01-01T00:00:00Z",
		"kill_chain_phases":   []any{map[string]any{"kill_chain_name": "mandiant-attack-lifecycle-model", "phase_name": "initial-compromise"}},
		"external_references": []any{map[string]any{"source_name": "capec", "external_id": "CAPEC-163"}},
		"object_marking_refs": []any{TLP2Green},
		"labels":              []any{"poison-ivy"},
		"confidence":          80,
		"lang":                "en",
	}
	validRelationship = map[string]any{
		"type": "relationship", "spec_version": "2.1", "id": "relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad",
		"created": "2016-04-06T20:06:37.000Z", "modified": "2016-04-06T20:06:37.000Z",
		"relationship_type": "indicates", "source_ref": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
		"target_ref": "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
	}
	validSighting = map[string]any{
		"type": "sighting", "spec_version": "2.1", "id": "sighting--ee20065d-2555-424f-ad9e-0f8428623c75",
		"created": "2016-04-06T20:08:31.000Z", "modified": "2016-04-06T20:08:31.000Z",
		"sighting_of_ref":    "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
		"observed_data_refs": []any{"observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf"},
		"where_sighted_refs": []any{"identity--b67d30ff-02ac-498a-92f9-32f845f448ff"},
		"count":              50,
	}
	validObservedData = map[string]any{
		"type": "observed-data", "spec_version": "2.1", "id": "observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf",
		"created": "2016-04-06T19:58:16.000Z", "modified": "2016-04-06T19:58:16.000Z",
		"first_observed": "2015-12-21T19:00:00Z", "last_observed": "2016-04-06T19:58:16Z", "number_observed": 50,
		"object_refs": []any{"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"},
	}
	baseIPv4 = map[string]any{"type": "ipv4-addr", "spec_version": "2.1",
		"id": "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4", "value": "198.51.100.3"}
	validEmailMessage = map[string]any{"type": "email-message", "spec_version": "2.1",
		"id": "email-message--16177f7c-38c5-59f4-baa5-b934fa13ce49", "is_multipart": false,
		"from_ref": "email-addr--6deb37bd-12b7-54ae-805f-5f7146f3d171", "subject": "Saying Hello"}
	validMarking = map[string]any{"type": "marking-definition", "spec_version": "2.1",
		"id": "marking-definition--d81f86b9-975b-4c0b-875e-810c5ad45a4f", "created": "2017-04-14T13:07:49.812Z",
		"definition_type": "statement", "definition": map[string]any{"statement": "Copyright (c) Stark Industries 2017."}}
	validLocation = map[string]any{"type": "location", "spec_version": "2.1",
		"id": "location--a6e9345f-5a15-4c29-8bb3-7dcc5d168d64", "created": "2016-04-06T20:03:00.000Z",
		"modified": "2016-04-06T20:03:00.000Z", "region": "south-eastern-asia", "country": "th"}
)

// with returns a copy of base with some properties set (to a value) or removed (to nil).
func with(base map[string]any, kv ...any) map[string]any {
	m := make(map[string]any, len(base))
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}

func text(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestValidBases(t *testing.T) {
	for _, m := range []map[string]any{validIndicator, validRelationship, validSighting, validObservedData,
		baseIPv4, validEmailMessage, validMarking, validLocation} {
		raw := []byte(text(t, m))
		if _, err := Decode(raw); err != nil {
			t.Errorf("base object rejected: %v", err)
		}
	}
}

func TestInvalidVariants(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70)
	cases := []struct {
		name       string
		raw        string
		rule, path string
	}{
		{"missing type", text(t, with(validIndicator, "type", nil)), "required", "$.type"},
		{"missing id", text(t, with(validIndicator, "id", nil)), "required", "$.id"},
		{"id without UUID", text(t, with(validIndicator, "id", "indicator--1234")), "id-format", "$.id"},
		{"id of another type", text(t, with(validIndicator, "id", "malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")), "id-format", "$.id"},
		{"id with a non-RFC 4122 UUID", text(t, with(validIndicator, "id", "indicator--8e2e2d2b-17d4-0cbf-738f-98ee46b3cd3f")), "id-format", "$.id"},
		{"type with a double hyphen", text(t, with(validIndicator, "type", "x--custom", "id", "x--custom--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")), "type-format", "$.type"},
		{"a bundle", `{"type":"bundle","id":"bundle--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","objects":[]}`, "type-format", "$.type"},
		{"unsupported spec_version", text(t, with(validIndicator, "spec_version", "2.2")), "spec-version", "$.spec_version"},
		{"2.0 indicator without labels", text(t, with(validIndicator, "spec_version", nil, "labels", nil)), "required", "$.labels"},
		{"missing created", text(t, with(validIndicator, "created", nil)), "required", "$.created"},
		{"bad timestamp", text(t, with(validIndicator, "created", "2016-04-06 20:03:48.000Z")), "timestamp-format", "$.created"},
		{"impossible date", text(t, with(validIndicator, "valid_from", "2016-02-30T00:00:00Z")), "timestamp-format", "$.valid_from"},
		{"created without milliseconds", text(t, with(validIndicator, "created", "2016-04-06T20:03:48Z")), "timestamp-precision", "$.created"},
		{"modified before created", text(t, with(validIndicator, "modified", "2016-04-06T20:03:47.999Z")), "timestamp-order", "$.modified"},
		{"created_by_ref not an identity", text(t, with(validIndicator, "created_by_ref", "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b")), "ref-type", "$.created_by_ref"},
		{"object_marking_refs not a marking", text(t, with(validIndicator, "object_marking_refs", []any{"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff"})), "ref-type", "$.object_marking_refs[0]"},
		{"confidence above 100", text(t, with(validIndicator, "confidence", 101)), "range", "$.confidence"},
		{"confidence not a number", text(t, with(validIndicator, "confidence", "high")), "type", "$.confidence"},
		{"custom property in upper case", text(t, with(validIndicator, "X_acme_score", 1)), "property-name", "$.X_acme_score"},
		{"custom property too short", text(t, with(validIndicator, "xy", 1)), "property-name", "$.xy"},
		{"reserved property name", text(t, with(validIndicator, "severity", "high")), "reserved-name", "$.severity"},
		{"null property", text(t, with(validIndicator, "description", json.RawMessage("null"))), "type", "$.description"},
		{"empty list", text(t, with(validIndicator, "labels", []any{})), "empty", "$.labels"},
		{"bad language tag", text(t, with(validIndicator, "lang", "en us")), "lang", "$.lang"},
		{"duplicate JSON key", `{"type":"indicator","type":"malware","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}`, "json", "$.type"},
		{"not an object", `["indicator"]`, "json", "$"},
		{"invalid UTF-8", "{\"type\":\"indicator\",\"name\":\"\xff\"}", "json", "$.name"},
		{"nesting too deep", `{"type":"x-deep","id":"x-deep--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","x_deep":` + deep + `}`, "depth", "$"},
		{"indicator valid_until before valid_from", text(t, with(validIndicator, "valid_until", "2015-12-31T23:59:59Z")), "timestamp-order", "$.valid_until"},
		{"indicator valid_until equal to valid_from", text(t, with(validIndicator, "valid_until", "2016-01-01T00:00:00.000Z")), "timestamp-order", "$.valid_until"},
		{"indicator without pattern", text(t, with(validIndicator, "pattern", nil)), "required", "$.pattern"},
		{"kill chain phase without phase_name", text(t, with(validIndicator, "kill_chain_phases", []any{map[string]any{"kill_chain_name": "lockheed"}})), "required", "$.kill_chain_phases[0].phase_name"},
		{"external reference without source_name", text(t, with(validIndicator, "external_references", []any{map[string]any{"url": "https://example.com"}})), "required", "$.external_references[0].source_name"},
		{"external reference with only source_name", text(t, with(validIndicator, "external_references", []any{map[string]any{"source_name": "acme"}})), "required", "$.external_references[0]"},
		{"CVE external id malformed", text(t, with(validIndicator, "external_references", []any{map[string]any{"source_name": "cve", "external_id": "CVE-16-1"}})), "external-id", "$.external_references[0].external_id"},
		{"external reference hash too short", text(t, with(validIndicator, "external_references", []any{map[string]any{"source_name": "acme", "url": "https://example.com", "hashes": map[string]any{"SHA-256": "abcd"}}})), "hash-format", "$.external_references[0].hashes.SHA-256"},
		{"granular marking selector not in object", text(t, with(validIndicator, "granular_markings", []any{map[string]any{"marking_ref": TLP2Red, "selectors": []any{"description"}}})), "selector", "$.granular_markings[0].selectors[0]"},
		{"granular marking with marking_ref and lang", text(t, with(validIndicator, "granular_markings", []any{map[string]any{"marking_ref": TLP2Red, "lang": "de", "selectors": []any{"name"}}})), "granular-marking", "$.granular_markings[0]"},
		{"granular marking_ref not a marking", text(t, with(validIndicator, "granular_markings", []any{map[string]any{"marking_ref": "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff", "selectors": []any{"name"}}})), "ref-type", "$.granular_markings[0].marking_ref"},
		{"extension with a bad key", text(t, with(validIndicator, "extensions", map[string]any{"acme": map[string]any{"x_score": 1}})), "extension-key", "$.extensions.acme"},
		{"extension-definition extension without extension_type", text(t, with(validIndicator, "extensions", map[string]any{"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e": map[string]any{"rank": 5}})), "required", "$.extensions.extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e.extension_type"},
		{"defanged on an SDO", text(t, with(validIndicator, "defanged", true)), "not-applicable", "$.defanged"},
		{"custom _ref holding text", text(t, with(validIndicator, "x_acme_owner_ref", "bob")), "ref-format", "$.x_acme_owner_ref"},
		{"custom _refs that is not a list", text(t, with(validIndicator, "x_acme_peer_refs", "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff")), "type", "$.x_acme_peer_refs"},
		{"custom _hex that is not hex", text(t, with(validIndicator, "x_acme_flags_hex", "zz")), "hex", "$.x_acme_flags_hex"},

		{"relationship without target_ref", text(t, with(validRelationship, "target_ref", nil)), "required", "$.target_ref"},
		{"relationship to a marking definition", text(t, with(validRelationship, "target_ref", TLP1Red)), "ref-type", "$.target_ref"},
		{"relationship_type in upper case", text(t, with(validRelationship, "relationship_type", "Indicates")), "relationship-type", "$.relationship_type"},
		{"relationship stop_time before start_time", text(t, with(validRelationship, "start_time", "2016-01-01T00:00:00Z", "stop_time", "2015-01-01T00:00:00Z")), "timestamp-order", "$.stop_time"},

		{"sighting where_sighted_refs to malware", text(t, with(validSighting, "where_sighted_refs", []any{"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"})), "ref-type", "$.where_sighted_refs[0]"},
		{"sighting observed_data_refs to an indicator", text(t, with(validSighting, "observed_data_refs", []any{"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"})), "ref-type", "$.observed_data_refs[0]"},
		{"sighting of a relationship", text(t, with(validSighting, "sighting_of_ref", "relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad")), "ref-type", "$.sighting_of_ref"},
		{"sighting count negative", text(t, with(validSighting, "count", -1)), "range", "$.count"},
		{"sighting without sighting_of_ref", text(t, with(validSighting, "sighting_of_ref", nil)), "required", "$.sighting_of_ref"},

		{"observed-data number_observed 0", text(t, with(validObservedData, "number_observed", 0)), "range", "$.number_observed"},
		{"observed-data with objects and object_refs", text(t, with(validObservedData, "objects", map[string]any{"0": map[string]any{"type": "ipv4-addr", "value": "198.51.100.3"}})), "required", "$"},
		{"observed-data object_refs to an SDO", text(t, with(validObservedData, "object_refs", []any{"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"})), "ref-type", "$.object_refs[0]"},
		{"observed-data last before first", text(t, with(validObservedData, "last_observed", "2015-12-21T18:59:59Z")), "timestamp-order", "$.last_observed"},

		{"identity without name", `{"type":"identity","spec_version":"2.1","id":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff","created":"2016-04-06T20:03:00.000Z","modified":"2016-04-06T20:03:00.000Z","identity_class":"organization"}`, "required", "$.name"},
		{"malware without is_family", `{"type":"malware","spec_version":"2.1","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2016-04-06T20:07:09.000Z","modified":"2016-04-06T20:07:09.000Z","name":"Poison Ivy"}`, "required", "$.is_family"},
		{"malware family without name", `{"type":"malware","spec_version":"2.1","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2016-04-06T20:07:09.000Z","modified":"2016-04-06T20:07:09.000Z","is_family":true}`, "required", "$.name"},
		{"location with latitude only", text(t, with(validLocation, "latitude", 48.8)), "required", "$"},
		{"location latitude out of range", text(t, with(validLocation, "latitude", 91, "longitude", 2.3)), "range", "$.latitude"},
		{"report without published", `{"type":"report","spec_version":"2.1","id":"report--84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3","created":"2015-12-21T19:59:11.000Z","modified":"2015-12-21T19:59:11.000Z","name":"The Black Vine Cyberespionage Group","object_refs":["indicator--26ffb872-1dd9-446e-b6f5-d58527e5b5d2"]}`, "required", "$.published"},

		{"wrong SCO v5 id", text(t, with(baseIPv4, "value", "198.51.100.4")), "sco-id", "$.id"},
		{"v5 id without contributing properties", `{"type":"user-account","spec_version":"2.1","id":"user-account--0d5b424b-93b8-5cd8-ac36-306e1789d63c","display_name":"John Doe"}`, "sco-id", "$.id"},
		{"SCO with labels", text(t, with(baseIPv4, "labels", []any{"bad"})), "not-applicable", "$.labels"},
		{"ipv4 value not an address", text(t, with(baseIPv4, "id", "ipv4-addr--ff26c055-6336-4b53-9d1e-4a72fd08a0a6", "value", "198.51.100.300")), "value-format", "$.value"},
		{"ipv4 resolves_to_refs to a domain", text(t, with(baseIPv4, "resolves_to_refs", []any{"domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"})), "ref-type", "$.resolves_to_refs[0]"},
		{"mac address in upper case", `{"type":"mac-addr","id":"mac-addr--08900593-0265-52fc-93c0-5b4a942f5887","value":"D2:FB:49:24:37:18"}`, "value-format", "$.value"},
		{"email-message from_ref to an ipv4-addr", text(t, with(validEmailMessage, "from_ref", "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4")), "ref-type", "$.from_ref"},
		{"email-message body with is_multipart", text(t, with(validEmailMessage, "is_multipart", true, "body", "hi")), "exclusive", "$.body"},
		{"file hash with wrong length", `{"type":"file","id":"file--0b1f5e2c-d6c4-4c44-93b5-5c4d3ab7b0b6","hashes":{"MD5":"1717b7fff97d37a1e1a0029d83492de"}}`, "hash-format", "$.hashes.MD5"},
		{"file without hashes or name", `{"type":"file","id":"file--0b1f5e2c-d6c4-4c44-93b5-5c4d3ab7b0b6","size":25536}`, "required", "$"},
		{"archive-ext without contains_refs", `{"type":"file","id":"file--0b1f5e2c-d6c4-4c44-93b5-5c4d3ab7b0b6","name":"a.zip","extensions":{"archive-ext":{"comment":"x"}}}`, "required", "$.extensions.archive-ext.contains_refs"},
		{"network-traffic without src_ref or dst_ref", `{"type":"network-traffic","id":"network-traffic--0b1f5e2c-d6c4-4c44-93b5-5c4d3ab7b0b6","protocols":["tcp"]}`, "required", "$"},
		{"network-traffic port out of range", `{"type":"network-traffic","id":"network-traffic--0b1f5e2c-d6c4-4c44-93b5-5c4d3ab7b0b6","protocols":["tcp"],"dst_ref":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","dst_port":70000}`, "range", "$.dst_port"},
		{"artifact with payload_bin and url", `{"type":"artifact","id":"artifact--0b1f5e2c-d6c4-4c44-93b5-5c4d3ab7b0b6","payload_bin":"aGVsbG8=","url":"https://example.com/a","hashes":{"MD5":"5d41402abc4b2a76b9719d911017c592"}}`, "exclusive", "$.url"},
		{"artifact payload not base64", `{"type":"artifact","id":"artifact--0b1f5e2c-d6c4-4c44-93b5-5c4d3ab7b0b6","payload_bin":"not base64!"}`, "binary", "$.payload_bin"},
		{"registry key with abbreviated hive", `{"type":"windows-registry-key","id":"windows-registry-key--0b1f5e2c-d6c4-4c44-93b5-5c4d3ab7b0b6","key":"HKLM\\Software"}`, "registry-hive", "$.key"},

		{"marking definition with modified", text(t, with(validMarking, "modified", "2017-04-14T13:07:49.812Z")), "not-applicable", "$.modified"},
		{"marking definition without definition", text(t, with(validMarking, "definition", nil)), "required", "$.definition"},
		{"statement marking without statement", text(t, with(validMarking, "definition", map[string]any{"text": "x"})), "required", "$.definition.statement"},
		{"TLP marking with a made-up id", text(t, with(validMarking, "definition_type", "tlp", "definition", map[string]any{"tlp": "green"})), "tlp", "$.definition.tlp"},
		{"TLP 1.0 id with the wrong level", `{"type":"marking-definition","spec_version":"2.1","id":"` + TLP1White + `","created":"2017-01-20T00:00:00.000Z","definition_type":"tlp","name":"TLP:WHITE","definition":{"tlp":"red"}}`, "tlp", "$.definition.tlp"},
		{"TLP 2.0 id with the wrong level", strings.Replace(tlp2JSON(TLP2Clear, "CLEAR", "clear"), `"tlp_2_0":"clear"`, `"tlp_2_0":"red"`, 1), "tlp", "$.extensions"},
		{"marking that marks itself", text(t, with(validMarking, "object_marking_refs", []any{"marking-definition--d81f86b9-975b-4c0b-875e-810c5ad45a4f"})), "ref-cycle", "$.object_marking_refs[0]"},
		{"extension-definition without created_by_ref", `{"type":"extension-definition","spec_version":"2.1","id":"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e","created":"2014-02-20T09:16:08.989Z","modified":"2014-02-20T09:16:08.989Z","name":"x","schema":"https://example.com","version":"1.0.0","extension_types":["property-extension"]}`, "required", "$.created_by_ref"},
		{"extension-definition with an unknown extension type", `{"type":"extension-definition","spec_version":"2.1","id":"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e","created_by_ref":"identity--11b76a96-5d2b-45e0-8a5a-f6994f370731","created":"2014-02-20T09:16:08.989Z","modified":"2014-02-20T09:16:08.989Z","name":"x","schema":"https://example.com","version":"1.0.0","extension_types":["new-thing"]}`, "enum", "$.extension_types[0]"},
		{"language-content without contents", `{"type":"language-content","spec_version":"2.1","id":"language-content--b86bd89f-98bb-4fa9-8cb2-9ad421da981d","created":"2017-02-08T21:31:22.007Z","modified":"2017-02-08T21:31:22.007Z","object_ref":"campaign--12a111f0-b824-4baf-a224-83b80237a094"}`, "required", "$.contents"},
		{"custom SDO-like object without modified", `{"type":"x-acme-widget","spec_version":"2.1","id":"x-acme-widget--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z"}`, "required", "$.modified"},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj, err := Decode([]byte(c.raw))
			if err == nil {
				t.Fatalf("accepted: %+v", obj)
			}
			if obj != nil {
				t.Errorf("Decode returned an object with its error")
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %T %v is not a *ValidationError wrapping ErrInvalid", err, err)
			}
			if len(ve.Problems) == 0 {
				t.Fatal("no problems")
			}
			for _, p := range ve.Problems {
				if p.Rule == c.rule && p.Path == c.path {
					if p.Message == "" {
						t.Errorf("problem %v has no message", p)
					}
					return
				}
			}
			t.Errorf("want rule %q at %s, got %v", c.rule, c.path, err)
		})
	}
}

// TestValidationErrorNamesObject checks that a rejection names the object when its id is readable,
// even when the JSON itself is at fault.
func TestValidationErrorNamesObject(t *testing.T) {
	cases := []struct{ raw, id, typ string }{
		{text(t, with(validIndicator, "confidence", 101)), "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "indicator"},
		{`{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"a","name":"b"}`, "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "indicator"},
		{`{"type":"indicator","id":"indicator--1"}`, "", "indicator"},
	}
	for _, c := range cases {
		_, err := Decode([]byte(c.raw))
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("%s: want a ValidationError, got %v", c.raw, err)
		}
		if ve.ObjectID != c.id || ve.Type != c.typ {
			t.Errorf("%s: named %q (%q), want %q (%q)", c.raw, ve.ObjectID, ve.Type, c.id, c.typ)
		}
		if c.id != "" && !strings.HasPrefix(err.Error(), c.id+": ") {
			t.Errorf("message %q does not start with the id", err)
		}
	}
}

// TestProblemsAreCapped checks that an object with many problems lists at most maxProblems of
// them, plus a count of the rest.
func TestProblemsAreCapped(t *testing.T) {
	m := with(validIndicator)
	for i := 0; i < 50; i++ {
		m["X"+strings.Repeat("a", i+3)] = 1
	}
	_, err := Decode([]byte(text(t, m)))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a ValidationError, got %v", err)
	}
	if len(ve.Problems) != maxProblems+1 || ve.Problems[maxProblems].Rule != "too-many-problems" {
		t.Errorf("got %d problems, last %v", len(ve.Problems), ve.Problems[len(ve.Problems)-1])
	}
}

// TestLimits checks the size and count limits.
func TestLimits(t *testing.T) {
	raw := []byte(text(t, validIndicator))
	cases := []struct {
		lim  Limits
		rule string
	}{
		{Limits{MaxBytes: len(raw) - 1}, "size"},
		{Limits{MaxDepth: 2}, "depth"},
		{Limits{MaxValues: 5}, "size"},
	}
	for _, c := range cases {
		_, err := DecodeWithLimits(raw, c.lim)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Problems[0].Rule != c.rule {
			t.Errorf("%+v: want rule %s, got %v", c.lim, c.rule, err)
		}
	}
	if _, err := DecodeWithLimits(raw, Limits{MaxBytes: len(raw), MaxDepth: 3, MaxValues: 100}); err != nil {
		t.Errorf("object within limits rejected: %v", err)
	}
}
