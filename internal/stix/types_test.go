package stix

import (
	"slices"
	"strings"
	"testing"
)

// sdoHeader is the common part of a minimal 2.1 SDO or SRO.
func sdoHeader(typ, uuid string) string {
	return `"type":"` + typ + `","spec_version":"2.1","id":"` + typ + `--` + uuid +
		`","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z",`
}

// minimalObjects holds one small valid object of every type the specification defines.
var minimalObjects = map[string]string{
	"attack-pattern":       `{` + sdoHeader("attack-pattern", "0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061") + `"name":"Spear Phishing","kill_chain_phases":[{"kill_chain_name":"mitre-attack","phase_name":"initial-access"}]}`,
	"campaign":             `{` + sdoHeader("campaign", "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f") + `"name":"Green Group Attacks Against Finance","first_seen":"2016-04-06T20:03:48Z","last_seen":"2016-05-06T20:03:48Z"}`,
	"course-of-action":     `{` + sdoHeader("course-of-action", "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f") + `"name":"Add TCP port 80 Filter Rule"}`,
	"grouping":             `{` + sdoHeader("grouping", "84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3") + `"name":"The Black Vine Cyberespionage Group","context":"suspicious-activity","object_refs":["indicator--26ffb872-1dd9-446e-b6f5-d58527e5b5d2","relationship--f82356ae-fe6c-437c-9c24-6b64314ae68a"]}`,
	"identity":             `{` + sdoHeader("identity", "023d105b-752e-4e3c-941c-7d3f3cb15e9e") + `"name":"John Smith","identity_class":"individual","sectors":["technology"]}`,
	"incident":             `{` + sdoHeader("incident", "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f") + `"name":"Breach of the payroll system"}`,
	"indicator":            `{` + sdoHeader("indicator", "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f") + `"pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z","valid_until":"2017-01-01T00:00:00Z"}`,
	"infrastructure":       `{` + sdoHeader("infrastructure", "38c47d93-d984-4fd9-b87b-d69d0841628d") + `"name":"Poison Ivy C2","infrastructure_types":["command-and-control"]}`,
	"intrusion-set":        `{` + sdoHeader("intrusion-set", "4e78f46f-a023-4e5f-bc24-71b3ca22ec29") + `"name":"Bobcat Breakin","aliases":["Zookeeper"],"goals":["acquisition-theft"]}`,
	"location":             `{` + sdoHeader("location", "a6e9345f-5a15-4c29-8bb3-7dcc5d168d64") + `"latitude":48.8566,"longitude":2.3522,"precision":1000}`,
	"malware":              `{` + sdoHeader("malware", "0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061") + `"name":"Cryptolocker","is_family":false,"malware_types":["ransomware"],"sample_refs":["file--949eb97a-da1e-5292-8959-03c4249dc9f3"],"operating_system_refs":["software--710b0b41-d4d0-5d6c-a400-fc9254554ffc"]}`,
	"malware-analysis":     `{` + sdoHeader("malware-analysis", "d25167b7-fed0-4068-9ccd-a73dd2c5b07c") + `"product":"microsoft","result":"malicious","analysis_sco_refs":["file--949eb97a-da1e-5292-8959-03c4249dc9f3"],"sample_ref":"file--949eb97a-da1e-5292-8959-03c4249dc9f3","host_vm_ref":"software--710b0b41-d4d0-5d6c-a400-fc9254554ffc"}`,
	"note":                 `{` + sdoHeader("note", "0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061") + `"abstract":"Tracking Team Note#1","content":"This note indicates the various steps taken by the threat analyst team.","authors":["John Doe"],"object_refs":["campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]}`,
	"observed-data":        `{` + sdoHeader("observed-data", "b67d30ff-02ac-498a-92f9-32f845f448cf") + `"first_observed":"2015-12-21T19:00:00Z","last_observed":"2015-12-21T19:00:00Z","number_observed":50,"object_refs":["ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","relationship--f82356ae-fe6c-437c-9c24-6b64314ae68a"]}`,
	"opinion":              `{` + sdoHeader("opinion", "b01efc25-77b4-4003-b18b-f6e24b5cd9f7") + `"explanation":"This doesn't seem like it is feasible.","opinion":"strongly-disagree","object_refs":["relationship--16d2358f-3b0d-4c88-b047-0da2f7ed4471"]}`,
	"report":               `{` + sdoHeader("report", "84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3") + `"name":"The Black Vine Cyberespionage Group","report_types":["campaign"],"published":"2016-01-20T17:00:00.000Z","object_refs":["indicator--26ffb872-1dd9-446e-b6f5-d58527e5b5d2"]}`,
	"threat-actor":         `{` + sdoHeader("threat-actor", "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f") + `"name":"Evil Org","threat_actor_types":["crime-syndicate"],"roles":["director"],"sophistication":"advanced"}`,
	"tool":                 `{` + sdoHeader("tool", "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f") + `"name":"VNC","tool_types":["remote-access"]}`,
	"vulnerability":        `{` + sdoHeader("vulnerability", "0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061") + `"name":"CVE-2016-1234","external_references":[{"source_name":"cve","external_id":"CVE-2016-1234"}]}`,
	"relationship":         `{` + sdoHeader("relationship", "44298a74-ba52-4f0c-87a3-1824e67d7fad") + `"relationship_type":"resolves-to","source_ref":"domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7","target_ref":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","start_time":"2016-01-01T00:00:00Z","stop_time":"2016-01-02T00:00:00Z"}`,
	"sighting":             `{` + sdoHeader("sighting", "ee20065d-2555-424f-ad9e-0f8428623c75") + `"sighting_of_ref":"x-acme-thing--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","where_sighted_refs":["location--a6e9345f-5a15-4c29-8bb3-7dcc5d168d64"],"summary":true,"count":0}`,
	"language-content":     `{` + sdoHeader("language-content", "b86bd89f-98bb-4fa9-8cb2-9ad421da981d") + `"object_ref":"campaign--12a111f0-b824-4baf-a224-83b80237a094","object_modified":"2017-02-08T21:31:22.007Z","contents":{"de":{"name":"Bank Angriff"},"fr":{"name":"Attaque Bank"}}}`,
	"extension-definition": `{` + sdoHeader("extension-definition", "9c59fd79-4215-4ba2-920d-3e4f320e1e62") + `"created_by_ref":"identity--11b76a96-5d2b-45e0-8a5a-f6994f370731","name":"Extension Foo 1","schema":"https://www.example.com/schema-foo-1/v1/","version":"1.2.1","extension_types":["toplevel-property-extension"],"extension_properties":["toxicity","rank"]}`,
	"marking-definition":   `{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--4a0042fe-8b88-40fe-9600-dfa128ce6fbd","created":"2016-08-01T00:00:00.000Z","definition_type":"statement","definition":{"statement":"Copyright 2019, Example Corp"}}`,

	"artifact":             `{"type":"artifact","spec_version":"2.1","id":"artifact--4cce66f8-6eaa-43cb-85d5-3a85fca3a6c5","mime_type":"image/jpeg","url":"https://upload.wikimedia.org/wikipedia/commons/b/b4/JPEG_example_JPG_RIP_100.jpg","hashes":{"MD5":"6826f9a05da08134006557758bb3afbb"}}`,
	"autonomous-system":    `{"type":"autonomous-system","spec_version":"2.1","id":"autonomous-system--3aa27478-50b5-5ab8-9da9-cdc12b657fff","number":15139,"name":"Slime Industries","rir":"ARIN"}`,
	"directory":            `{"type":"directory","spec_version":"2.1","id":"directory--0a58d0c1-59e6-5afd-8252-dcd3f13e5622","path":"C:\\Windows\\System32","contains_refs":["file--949eb97a-da1e-5292-8959-03c4249dc9f3"]}`,
	"domain-name":          `{"type":"domain-name","spec_version":"2.1","id":"domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7","value":"example.com","resolves_to_refs":["ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4"]}`,
	"email-addr":           `{"type":"email-addr","spec_version":"2.1","id":"email-addr--7165e2a9-671f-585d-b1e1-ca59c671d934","value":"john@example.com","display_name":"John Doe","belongs_to_ref":"user-account--f94d689e-707d-58c3-b803-c720bb6ed096"}`,
	"email-message":        `{"type":"email-message","spec_version":"2.1","id":"email-message--0c57a381-2a17-4e61-8754-5ef96efb286c","is_multipart":true,"to_refs":["email-addr--2aeeb98c-9db4-525e-874d-221fdfe9f76e"],"additional_header_fields":{"Reply-To":["steve@example.com","jane@example.com"]},"body_multipart":[{"content_type":"text/plain; charset=utf-8","body":"Cats are funny!"},{"content_type":"image/png","body_raw_ref":"artifact--4cce66f8-6eaa-53cb-85d5-3a85fca3a6c5"}]}`,
	"file":                 `{"type":"file","spec_version":"2.1","id":"file--9a1f834d-2506-4367-baec-7aa63996ac43","name":"foo.zip","hashes":{"SHA-256":"35a01331e9ad96f751278b891b6ea09699806faedfa237d40513d92ad1b7100f"},"mime_type":"application/zip","extensions":{"archive-ext":{"contains_refs":["file--70221dbf-52fd-5377-9619-c0ce6b3ffc8c"]}}}`,
	"ipv4-addr":            `{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--1ea47840-aa39-5aa8-b4a2-cd203eb6662a","value":"198.51.100.0/24"}`,
	"ipv6-addr":            `{"type":"ipv6-addr","spec_version":"2.1","id":"ipv6-addr--084d3b4c-7785-568a-a569-0c61c95754ab","value":"2001:0db8::/96"}`,
	"mac-addr":             `{"type":"mac-addr","spec_version":"2.1","id":"mac-addr--757b1725-9903-54f5-a855-1240691d7659","value":"d2:fb:49:24:37:18"}`,
	"mutex":                `{"type":"mutex","spec_version":"2.1","id":"mutex--f93fe911-e545-5239-b9b0-597840d0c871","name":"__CLEANSWEEP__"}`,
	"network-traffic":      `{"type":"network-traffic","spec_version":"2.1","id":"network-traffic--fdd6dbda-a206-42fe-b19b-64d908748850","dst_ref":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","protocols":["tcp","http"],"is_active":true,"extensions":{"http-request-ext":{"request_method":"get","request_value":"/download.html","request_header":{"Host":["www.example.com"]}},"socket-ext":{"address_family":"AF_INET","socket_type":"SOCK_STREAM"}}}`,
	"process":              `{"type":"process","spec_version":"2.1","id":"process--ab1ff083-dc96-4896-8c8d-4e623f6e145e","pid":2217,"command_line":"C:\\Windows\\System32\\sirvizio.exe /s","image_ref":"file--3916128d-69af-5525-be7a-99fac2383a59","extensions":{"windows-service-ext":{"service_name":"sirvizio","start_type":"SERVICE_AUTO_START","service_dll_refs":["file--3916128d-69af-5525-be7a-99fac2383a59"]}}}`,
	"software":             `{"type":"software","spec_version":"2.1","id":"software--710b0b41-d4d0-5d6c-a400-fc9254554ffc","name":"Word","cpe":"cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*","version":"2002","vendor":"Microsoft"}`,
	"url":                  `{"type":"url","spec_version":"2.1","id":"url--47c3cf9a-5027-5bf0-997a-017c7edc7c55","value":"https://example.com/research/index.html"}`,
	"user-account":         `{"type":"user-account","spec_version":"2.1","id":"user-account--f94d689e-707d-58c3-b803-c720bb6ed096","user_id":"1001","account_login":"jdoe","account_type":"unix","extensions":{"unix-account-ext":{"gid":1001,"groups":["wheel"]}}}`,
	"windows-registry-key": `{"type":"windows-registry-key","spec_version":"2.1","id":"windows-registry-key--f6a11ddf-fa2b-54c8-97ab-e7f28413095a","key":"hkey_local_machine\\system\\bar\\foo","values":[{"name":"Foo","data":"qwerty","data_type":"REG_SZ"},{"name":"Bar","data":"42","data_type":"REG_DWORD"}]}`,
	"x509-certificate":     `{"type":"x509-certificate","spec_version":"2.1","id":"x509-certificate--bf86f034-2390-54d7-8426-d08433db3fbe","serial_number":"36:f7:d4:32:f4:ab:70:ea:d3:ce:98:6e:ea:99:93:49:32:0a:b7:06","validity_not_before":"2016-03-12T12:00:00Z","validity_not_after":"2016-08-21T12:00:00Z"}`,
}

// TestEveryType decodes a valid object of each of the 19 SDOs, 18 SCOs, 2 SROs and 3 meta
// objects, and checks the type table covers exactly those.
func TestEveryType(t *testing.T) {
	if len(sdoTypes) != 19 || len(scoTypes) != 18 || len(sroTypes) != 2 || len(metaTypes) != 3 {
		t.Fatalf("type sets: %d SDOs, %d SCOs, %d SROs, %d meta", len(sdoTypes), len(scoTypes), len(sroTypes), len(metaTypes))
	}
	var all []string
	for _, set := range []map[string]bool{sdoTypes, scoTypes, sroTypes, metaTypes} {
		for typ := range set {
			all = append(all, typ)
		}
	}
	slices.Sort(all)
	var table []string
	for typ := range builtinTypes {
		table = append(table, typ)
	}
	slices.Sort(table)
	if !slices.Equal(all, table) {
		t.Fatalf("type table %v\ndiffers from the type sets %v", table, all)
	}
	schemas := newSchemaSet(t)
	for _, typ := range all {
		t.Run(typ, func(t *testing.T) {
			raw, ok := minimalObjects[typ]
			if !ok {
				t.Fatal("no example")
			}
			obj := mustDecode(t, raw)
			want := KindSDO
			switch {
			case scoTypes[typ]:
				want = KindSCO
			case sroTypes[typ]:
				want = KindSRO
			case metaTypes[typ]:
				want = KindMeta
			}
			if obj.Type != typ || obj.Kind != want {
				t.Errorf("decoded as %s %v, want %s %v", obj.Type, obj.Kind, typ, want)
			}
			if err := schemas.validate(t, typ, want, []byte(raw)); err != nil {
				t.Errorf("the OASIS schema disagrees: %v", err)
			}
		})
	}
}

// TestTwoPointZero checks that STIX 2.0 objects follow 2.0's rules: no spec_version, different
// required properties (labels on indicators, no is_family on malware, objects on observed-data).
func TestTwoPointZero(t *testing.T) {
	good := []string{
		`{"type":"malware","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2016-04-06T20:07:09Z","modified":"2016-04-06T20:07:09Z","name":"Poison Ivy","labels":["remote-access-trojan"]}`,
		`{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48Z","modified":"2016-04-06T20:03:48Z","labels":["malicious-activity"],"pattern":"[file:name = 'a']","valid_from":"2016-01-01T00:00:00Z"}`,
		`{"type":"marking-definition","id":"marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168","created":"2017-06-01T00:00:00Z","definition_type":"statement","definition":{"statement":"Copyright"}}`,
		`{"type":"identity","id":"identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5","created":"2017-06-01T00:00:00Z","modified":"2017-06-01T00:00:00Z","name":"MITRE","identity_class":"organization"}`,
	}
	for _, raw := range good {
		obj := mustDecode(t, raw)
		if obj.SpecVersion != SpecVersion20 {
			t.Errorf("%s recorded as %q", obj.ID, obj.SpecVersion)
		}
	}
	bad := map[string]string{
		"$.labels":          `{"type":"malware","id":"malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b","created":"2016-04-06T20:07:09Z","modified":"2016-04-06T20:07:09Z","name":"Poison Ivy"}`,
		"$.identity_class":  `{"type":"identity","id":"identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5","created":"2017-06-01T00:00:00Z","modified":"2017-06-01T00:00:00Z","name":"MITRE"}`,
		"$.objects":         `{"type":"observed-data","id":"observed-data--b67d30ff-02ac-498a-92f9-32f845f448cf","created":"2016-04-06T19:58:16.000Z","modified":"2016-04-06T19:58:16.000Z","first_observed":"2015-12-21T19:00:00Z","last_observed":"2015-12-21T19:00:00Z","number_observed":1}`,
		"$.definition_type": `{"type":"marking-definition","id":"marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168","created":"2017-06-01T00:00:00Z","definition":{"statement":"Copyright"}}`,
	}
	for path, raw := range bad {
		_, err := Decode([]byte(raw))
		if err == nil || !strings.Contains(err.Error(), path+": the "+strings.TrimPrefix(path, "$.")+" property is required") {
			t.Errorf("want %s required, got %v", path, err)
		}
	}
}
