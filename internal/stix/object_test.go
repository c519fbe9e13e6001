package stix

import (
	"slices"
	"strings"
	"testing"
)

func mustDecode(t *testing.T, raw string) *Object {
	t.Helper()
	obj, err := Decode([]byte(raw))
	if err != nil {
		t.Fatalf("rejected: %v", err)
	}
	return obj
}

func TestCommonFields(t *testing.T) {
	obj := mustDecode(t, text(t, with(validIndicator, "revoked", true)))
	if obj.Type != "indicator" || obj.ID != "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f" || obj.Kind != KindSDO {
		t.Errorf("type/id/kind: %q %q %v", obj.Type, obj.ID, obj.Kind)
	}
	if obj.SpecVersion != "2.1" || obj.Created.String() != "2016-04-06T20:03:48.000Z" || !obj.Modified.Equal(obj.Created) {
		t.Errorf("version fields: %q %q %q", obj.SpecVersion, obj.Created, obj.Modified)
	}
	if obj.CreatedByRef != "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff" || !obj.Revoked || obj.Confidence != 80 {
		t.Errorf("created_by_ref %q revoked %v confidence %d", obj.CreatedByRef, obj.Revoked, obj.Confidence)
	}
	if !slices.Equal(obj.ObjectMarkingRefs, []string{TLP2Green}) {
		t.Errorf("markings %v", obj.ObjectMarkingRefs)
	}
	obj = mustDecode(t, text(t, with(validIndicator, "confidence", nil, "object_marking_refs", nil)))
	if obj.Confidence != -1 || obj.ObjectMarkingRefs != nil || obj.Revoked {
		t.Errorf("absent fields: confidence %d markings %v revoked %v", obj.Confidence, obj.ObjectMarkingRefs, obj.Revoked)
	}
}

// TestKindsAndVersions checks how objects are classified, and which version they are recorded as.
func TestKindsAndVersions(t *testing.T) {
	cases := []struct {
		name, raw string
		kind      Kind
		version   string
	}{
		{"2.1 SDO", text(t, validIndicator), KindSDO, "2.1"},
		{"2.0 SDO", `{"type":"attack-pattern","id":"attack-pattern--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","created":"2016-05-12T08:17:27Z","modified":"2016-05-12T08:17:27Z","name":"Spear Phishing"}`, KindSDO, "2.0"},
		{"SRO", text(t, validRelationship), KindSRO, "2.1"},
		{"sighting", text(t, validSighting), KindSRO, "2.1"},
		{"SCO with spec_version", text(t, baseIPv4), KindSCO, "2.1"},
		{"SCO without spec_version defaults to 2.1", `{"type":"domain-name","id":"domain-name--ecb120bf-2694-4902-a737-62b74539a41b","value":"example.com"}`, KindSCO, "2.1"},
		{"marking definition", text(t, validMarking), KindMeta, "2.1"},
		{"custom SDO-like (ATT&CK tactic, 2.0)", `{"type":"x-mitre-tactic","id":"x-mitre-tactic--daa4cbb1-b4f4-4723-a824-7f1efd6e0592","created":"2020-10-02T14:48:41.809Z","modified":"2020-10-02T14:48:41.809Z","name":"Reconnaissance","x_mitre_shortname":"reconnaissance"}`, KindSDO, "2.0"},
		{"custom SDO-like 2.1", `{"type":"x-acme-widget","spec_version":"2.1","id":"x-acme-widget--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","x_size":3}`, KindSDO, "2.1"},
		{"custom SCO-like", `{"type":"x-acme-beacon","id":"x-acme-beacon--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","value":"abc"}`, KindSCO, "2.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj := mustDecode(t, c.raw)
			if obj.Kind != c.kind || obj.SpecVersion != c.version {
				t.Errorf("kind %v version %q, want %v %q", obj.Kind, obj.SpecVersion, c.kind, c.version)
			}
		})
	}
}

func TestEdges(t *testing.T) {
	const (
		ind   = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
		ident = "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff"
		mal   = "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"
		rel   = "relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad"
		sig   = "sighting--ee20065d-2555-424f-ad9e-0f8428623c75"
		email = "email-message--16177f7c-38c5-59f4-baa5-b934fa13ce49"
		ext   = "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e"
	)
	cases := []struct {
		name string
		raw  string
		want []Edge
	}{
		{"indicator: created_by_ref, markings (object and granular), extension, custom refs",
			text(t, with(validIndicator, "object_marking_refs", []any{TLP2Green, TLP2Green},
				"granular_markings", []any{map[string]any{"marking_ref": TLP2Red, "selectors": []any{"name", "kill_chain_phases.[0].phase_name"}}},
				"extensions", map[string]any{ext: map[string]any{"extension_type": "property-extension", "x_owner_ref": ident}},
				"x_acme_related_refs", []any{mal, ""},
				"x_acme_sources", []any{map[string]any{"object_ref": rel}})),
			[]Edge{{ind, ident, "created_by_ref"}, {ind, TLP2Green, "object_marking_refs"}, {ind, TLP2Red, "marking_ref"},
				{ind, ext, "extensions"}, {ind, ident, "x_owner_ref"}, {ind, mal, "x_acme_related_refs"}, {ind, rel, "object_ref"}}},
		{"relationship: one edge source → target, typed by relationship_type",
			text(t, with(validRelationship, "created_by_ref", ident)),
			[]Edge{{rel, ident, "created_by_ref"}, {ind, mal, "indicates"}}},
		{"sighting", text(t, validSighting),
			[]Edge{{sig, ind, "sighting_of_ref"}, {sig, "observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf", "observed_data_refs"},
				{sig, "identity--b67d30ff-02ac-498a-92f9-32f845f448ff", "where_sighted_refs"}}},
		{"email message: embedded references of an SCO, MIME parts",
			text(t, with(validEmailMessage, "is_multipart", true, "body_multipart", []any{
				map[string]any{"body_raw_ref": "artifact--0682152c-646a-513b-bc07-e516494ed178"}})),
			[]Edge{{email, "email-addr--6deb37bd-12b7-54ae-805f-5f7146f3d171", "from_ref"},
				{email, "artifact--0682152c-646a-513b-bc07-e516494ed178", "body_raw_ref"}}},
		{"2.0 observed-data: container-local references make no edges",
			`{"type":"observed-data","id":"observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf","created":"2016-04-06T19:58:16.000Z","modified":"2016-04-06T19:58:16.000Z","first_observed":"2015-12-21T19:00:00Z","last_observed":"2015-12-21T19:00:00Z","number_observed":1,"objects":{"0":{"type":"ipv4-addr","value":"198.51.100.3"},"1":{"type":"network-traffic","dst_ref":"0","protocols":["tcp"]}}}`,
			nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj := mustDecode(t, c.raw)
			got := slices.Clone(obj.Edges)
			key := func(a, b Edge) int {
				return strings.Compare(a.Source+a.Target+a.Type, b.Source+b.Target+b.Type)
			}
			slices.SortFunc(got, key)
			want := slices.Clone(c.want)
			slices.SortFunc(want, key)
			if !slices.Equal(got, want) {
				t.Errorf("edges\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestObservables(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		want []Observable
	}{
		{"ipv4", `{"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","value":"198.51.100.3"}`, []Observable{{ObsIPv4, "198.51.100.3"}}},
		{"ipv4 /32 is the address", `{"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","value":"198.51.100.3/32"}`, []Observable{{ObsIPv4, "198.51.100.3"}}},
		{"ipv4 CIDR kept", `{"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","value":"198.51.100.0/24"}`, []Observable{{ObsIPv4, "198.51.100.0/24"}}},
		{"ipv6 canonical", `{"type":"ipv6-addr","id":"ipv6-addr--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","value":"2001:0DB8:85a3:0000:0000:8a2e:0370:7334"}`, []Observable{{ObsIPv6, "2001:db8:85a3::8a2e:370:7334"}}},
		{"ipv6 CIDR", `{"type":"ipv6-addr","id":"ipv6-addr--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","value":"2001:0db8::/96"}`, []Observable{{ObsIPv6, "2001:db8::/96"}}},
		{"domain", `{"type":"domain-name","id":"domain-name--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","value":"WWW.Example.COM."}`, []Observable{{ObsDomain, "www.example.com"}}},
		{"url", `{"type":"url","id":"url--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","value":" https://example.com/A "}`, []Observable{{ObsURL, "https://example.com/A"}}},
		{"email", `{"type":"email-addr","id":"email-addr--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","value":"John.Doe@Example.com"}`, []Observable{{ObsEmail, "john.doe@example.com"}}},
		{"mac", `{"type":"mac-addr","id":"mac-addr--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","value":"d2:fb:49:24:37:18"}`, []Observable{{ObsMAC, "d2:fb:49:24:37:18"}}},
		{"file hashes", `{"type":"file","id":"file--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","name":"a.exe","hashes":{"MD5":"1717B7FFF97D37A1E1A0029D83492DE1","SSDEEP":"3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C"}}`,
			[]Observable{{"hash:MD5", "1717b7fff97d37a1e1a0029d83492de1"}, {"hash:SSDEEP", "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C"}}},
		{"hash names normalised", `{"type":"file","id":"file--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","hashes":{"sha256":"AEC070645FE53EE3B3763059376134F058CC337247C978ADD178B6CCDFB0019F","x_custom":"AbC"}}`,
			[]Observable{{"hash:SHA-256", "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"}, {"hash:x_custom", "AbC"}}},
		{"artifact hashes", `{"type":"artifact","id":"artifact--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","url":"https://example.com/a","hashes":{"SHA-256":"AEC070645FE53EE3B3763059376134F058CC337247C978ADD178B6CCDFB0019F"}}`,
			[]Observable{{"hash:SHA-256", "aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f"}}},
		{"x509 serial and hash", `{"type":"x509-certificate","id":"x509-certificate--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","serial_number":"36:F7:D4","hashes":{"SHA-1":"C79A326F8411E9488BDC3779753E1E3489AAEDEA"}}`,
			[]Observable{{ObsX509Sr, "36f7d4"}, {"hash:SHA-1", "c79a326f8411e9488bdc3779753e1e3489aaedea"}}},
		{"autonomous system", `{"type":"autonomous-system","id":"autonomous-system--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","number":15139}`, []Observable{{ObsASN, "15139"}}},
		{"mutex", `{"type":"mutex","id":"mutex--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","name":"__CLEANSWEEP__"}`, []Observable{{ObsMutex, "__CLEANSWEEP__"}}},
		{"registry key", `{"type":"windows-registry-key","id":"windows-registry-key--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","key":"HKEY_LOCAL_MACHINE\\System\\Foo"}`, []Observable{{ObsRegKey, `hkey_local_machine\system\foo`}}},
		{"user account", `{"type":"user-account","id":"user-account--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","user_id":"JDoe"}`, []Observable{{ObsUserID, "JDoe"}}},
		{"defanged SCO is skipped", `{"type":"domain-name","id":"domain-name--ff26c055-6336-4b53-9d1e-4a72fd08a0a6","value":"example[.]com","defanged":true}`, nil},
		{"SDOs carry none", text(t, validIndicator), nil},
		{"2.0 observed-data container",
			`{"type":"observed-data","id":"observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf","created":"2016-04-06T19:58:16.000Z","modified":"2016-04-06T19:58:16.000Z","first_observed":"2015-12-21T19:00:00Z","last_observed":"2015-12-21T19:00:00Z","number_observed":1,"objects":{"0":{"type":"ipv4-addr","value":"198.51.100.3"},"1":{"type":"file","hashes":{"SHA-1":"c79a326f8411e9488bdc3779753e1e3489aaedea"}}}}`,
			[]Observable{{ObsIPv4, "198.51.100.3"}, {"hash:SHA-1", "c79a326f8411e9488bdc3779753e1e3489aaedea"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj := mustDecode(t, c.raw)
			if !slices.Equal(obj.Observables, c.want) {
				t.Errorf("got %v, want %v", obj.Observables, c.want)
			}
		})
	}
}

func TestNormalizeObservable(t *testing.T) {
	cases := []struct {
		kind, in, want string
		ok             bool
	}{
		{ObsIPv4, "10.0.0.1", "10.0.0.1", true},
		{ObsIPv4, "::1", "", false},
		{ObsIPv4, "10.0.0.256", "", false},
		{ObsIPv6, "2001:DB8:0:0:0:0:0:1", "2001:db8::1", true},
		{ObsIPv6, "2001:db8::/128", "2001:db8::", true},
		{ObsMAC, "D2-FB-49-24-37-18", "d2:fb:49:24:37:18", true},
		{ObsASN, "AS15139", "15139", true},
		{ObsDomain, "", "", false},
		{"hash:SHA-256", "ABCD", "abcd", true},
		{"no-such-kind", "x", "", false},
	}
	for _, c := range cases {
		got, ok := NormalizeObservable(c.kind, c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("NormalizeObservable(%q, %q) = %q, %v; want %q, %v", c.kind, c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestDigest(t *testing.T) {
	a := []byte(`{"b":1,"a":"\u0041","c":[1.0,2e0]}`)
	b := []byte("{ \"a\" : \"A\", \"c\": [1, 2], \"b\": 1 }")
	c := []byte(`{"a":"A","b":2,"c":[1,2]}`)
	da, err := Digest(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Digest(b)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := Digest(c)
	if err != nil {
		t.Fatal(err)
	}
	if da != db {
		t.Error("equivalent texts have different digests")
	}
	if da == dc {
		t.Error("different objects have the same digest")
	}
	if string(a) != `{"b":1,"a":"\u0041","c":[1.0,2e0]}` {
		t.Error("Digest modified its input")
	}
	if _, err := Digest([]byte(`{"a":1,"a":2}`)); err == nil {
		t.Error("duplicate names accepted")
	}
}
