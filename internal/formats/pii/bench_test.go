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
