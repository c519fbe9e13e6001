package pattern

import (
	"slices"
	"testing"

	"github.com/renkei-cti/renkei/internal/stix"
)

func TestAddObservables(t *testing.T) {
	const head21 = `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",` +
		`"created":"2024-03-01T10:00:00.000Z","modified":"2024-03-01T10:00:00.000Z","valid_from":"2024-03-01T10:00:00Z",`
	tests := []struct {
		name, raw string
		want      []stix.Observable
	}{
		{"2.1 stix", head21 + `"pattern_type":"stix","pattern":"[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'Evil.Example']"}`,
			[]stix.Observable{{Kind: "ipv4-addr", Value: "198.51.100.7"}, {Kind: "domain-name", Value: "evil.example"}}},
		{"escapes in the JSON text", head21 + `"pattern_type":"stix","pattern":"[url:value = 'http://a.example/\u0078?q=\"1\"']"}`,
			[]stix.Observable{{Kind: "url", Value: `http://a.example/x?q="1"`}}},
		{"hash and IN, once each", head21 + `"pattern_type":"stix","pattern":"[file:hashes.MD5 = '` + "d41d8cd98f00b204e9800998ecf8427e" +
			`' AND email-addr:value IN ('a@example.org', 'a@example.org')]"}`,
			[]stix.Observable{{Kind: "hash:MD5", Value: "d41d8cd98f00b204e9800998ecf8427e"}, {Kind: "email-addr", Value: "a@example.org"}}},
		{"2.0, no pattern_type", `{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2017-01-01T00:00:00.000Z",` +
			`"modified":"2017-01-01T00:00:00.000Z","labels":["malicious-activity"],"valid_from":"2017-01-01T00:00:00Z",` +
			`"pattern":"[ipv6-addr:value = '2001:DB8::1']"}`,
			[]stix.Observable{{Kind: "ipv6-addr", Value: "2001:db8::1"}}},
		{"another pattern language", head21 + `"pattern_type":"sigma","pattern":"title: x"}`, nil},
		{"does not compile", head21 + `"pattern_type":"stix","pattern":"[ipv4-addr:value = ]"}`, nil},
		{"not an indicator", `{"type":"domain-name","spec_version":"2.1","id":"domain-name--064f846b-2bd3-5015-8d6f-d260dbda99c1","value":"a.example"}`,
			[]stix.Observable{{Kind: "domain-name", Value: "a.example"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := stix.Decode([]byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			AddObservables(obj)
			if !slices.Equal(obj.Observables, tc.want) {
				t.Errorf("observables %v, want %v", obj.Observables, tc.want)
			}
		})
	}
}

// BenchmarkAddObservables is what ingest spends on an indicator's observables (the pattern is
// compiled: most of it).
func BenchmarkAddObservables(b *testing.B) {
	obj, err := stix.Decode([]byte(`{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",` +
		`"created":"2024-03-01T10:00:00.000Z","modified":"2024-03-14T10:00:00.000Z","created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",` +
		`"name":"Malicious infrastructure 4711","description":"Address and domain seen in a phishing campaign against the energy sector.",` +
		`"indicator_types":["malicious-activity"],"pattern":"[ipv4-addr:value = '198.51.100.23'] OR [domain-name:value = 'host-81234.example-17.com']",` +
		`"pattern_type":"stix","valid_from":"2024-03-01T10:00:00Z","confidence":85,"labels":["phishing","energy"]}`))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		obj.Observables = obj.Observables[:0]
		AddObservables(obj)
	}
}
