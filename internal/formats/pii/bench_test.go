package pii

import (
	"strings"
	"testing"
)

func benchScan(b *testing.B, s string) {
	raw := obj(s)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		Scan(raw)
	}
}

// BenchmarkScanProse is a report's description: prose with a few numbers and addresses.
func BenchmarkScanProse(b *testing.B) {
	benchScan(b, strings.Repeat("The actor sent mail from 203.0.113.7 to staff on 2024-01-15; see CVE-2024-1234. ", 2000))
}

// BenchmarkScanDigits is the worst case for the numeric detectors: one long run of digits.
func BenchmarkScanDigits(b *testing.B) { benchScan(b, strings.Repeat("1", 100_000)) }

// BenchmarkScanGroups is a long run of digit groups.
func BenchmarkScanGroups(b *testing.B) { benchScan(b, strings.Repeat("1234 ", 20_000)) }

// BenchmarkScanIndicator is the common case on a TAXII page: a 700-byte indicator with timestamps,
// an address and a domain, and no personal data; full decodes every string as before the byte
// pre-check, scan is what Scan and Apply do.
func BenchmarkScanIndicator(b *testing.B) {
	raw := []byte(`{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",` +
		`"created":"2024-03-01T10:00:00.000Z","modified":"2024-03-14T10:00:00.000Z",` +
		`"created_by_ref":"identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",` +
		`"object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"],` +
		`"name":"Malicious infrastructure 4711","description":"Address and domain seen in a phishing campaign against ` +
		`the energy sector; observed by several partners during the last week.","indicator_types":["malicious-activity"],` +
		`"pattern":"[ipv4-addr:value = '198.51.100.23'] OR [domain-name:value = 'host-81234.example-17.com']","pattern_type":"stix",` +
		`"valid_from":"2024-03-01T10:00:00Z","confidence":85,"labels":["phishing","energy"],` +
		`"kill_chain_phases":[{"kill_chain_name":"mitre-attack","phase_name":"initial-access"}]}`)
	b.Run("full", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := scanTokens(raw, ruleSet{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("scan", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if fs := Scan(raw); len(fs) != 0 {
				b.Fatal(fs)
			}
		}
	})
}
