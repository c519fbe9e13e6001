package stix

import (
	"sync"
	"testing"

	"github.com/renkei-cti/renkei/internal/testdata"
)

var (
	benchOnce   sync.Once
	benchATTACK [][]byte
)

func attackSample(b *testing.B) [][]byte {
	b.Helper()
	benchOnce.Do(func() {
		objs := bundleFile(b, testdata.Path(b, "attack", "enterprise-attack.json.gz"))
		objs = append(objs, bundleFile(b, testdata.Path(b, "attack", "ics-attack.json.gz"))...)
		benchATTACK = objs
	})
	if benchATTACK == nil {
		b.Skip("ATT&CK data not available")
	}
	return benchATTACK
}

// smallMix is what a node mostly receives from sensors and feeds: indicators, IP addresses and
// the relationships between them.
func smallMix(b testing.TB) [][]byte {
	b.Helper()
	var out [][]byte
	for _, m := range []map[string]any{validIndicator, baseIPv4, validRelationship, validSighting} {
		raw, err := jsonMarshal(m)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, raw)
	}
	out = append(out,
		[]byte(`{"type":"domain-name","spec_version":"2.1","id":"domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7","value":"example.com"}`),
		[]byte(`{"type":"file","spec_version":"2.1","id":"file--949eb97a-da1e-5292-8959-03c4249dc9f3","hashes":{"SHA-256":"fe90a7e910cb3a4739bed9180e807e93fa70c90f25a8915476f5e4bfbac681db"},"size":25536,"name":"foo.dll"}`),
	)
	return out
}

// BenchmarkDecode measures decode and validation. Run with
//
//	go test -run='^$' -bench=Decode -benchmem -cpu 1 ./internal/stix/
//
// objects/s is per wall-clock second; objects/cpu-s divides by the CPU time the process used
// (garbage collection included), which stays meaningful on a machine shared with other work.
func BenchmarkDecode(b *testing.B) {
	sets := []struct {
		name string
		objs func(*testing.B) [][]byte
	}{
		{"small-mix", func(b *testing.B) [][]byte { return smallMix(b) }},
		{"examples", func(b *testing.B) [][]byte { return exampleObjects(b) }},
		{"attack", attackSample},
	}
	for _, set := range sets {
		b.Run(set.name, func(b *testing.B) {
			objs := set.objs(b)
			total := 0
			for _, o := range objs {
				total += len(o)
			}
			b.SetBytes(int64(total / len(objs)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			for i := 0; i < b.N; i++ {
				if _, err := Decode(objs[i%len(objs)]); err != nil {
					b.Fatal(err)
				}
			}
			cpu := processCPU() - cpu0
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "objects/s")
			if cpu > 0 {
				b.ReportMetric(float64(b.N)/cpu.Seconds(), "objects/cpu-s")
			}
		})
	}
}
