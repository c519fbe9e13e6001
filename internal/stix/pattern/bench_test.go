package pattern

import (
	"fmt"
	"testing"
	"time"
)

// benchPatterns is a realistic mix: mostly single exact-value indicators, some with OR, some
// with LIKE, MATCHES, ISSUBSET and observation operators.
func benchPatterns(n int) []string {
	out := make([]string, n)
	for i := range out {
		switch i % 20 {
		case 0, 1, 2, 3, 4, 5:
			out[i] = fmt.Sprintf("[file:hashes.'SHA-256' = '%064x']", i)
		case 6, 7, 8:
			out[i] = fmt.Sprintf("[ipv4-addr:value = '198.51.%d.%d']", i%256, (i/256)%256)
		case 9, 10, 11:
			out[i] = fmt.Sprintf("[domain-name:value = 'host%d.evil.example']", i)
		case 12, 13:
			out[i] = fmt.Sprintf("[url:value = 'http://evil%d.example/path/%d']", i, i)
		case 14:
			out[i] = fmt.Sprintf("[domain-name:value = 'a%d.example' OR ipv4-addr:value = '203.0.113.%d']", i, i%256)
		case 15:
			out[i] = fmt.Sprintf("[email-message:from_ref.value = 'x%d@example.com' AND email-message:subject LIKE 'Invoice%%']", i)
		case 16:
			out[i] = fmt.Sprintf("[ipv4-addr:value ISSUBSET '10.%d.0.0/16']", i%256)
		case 17:
			out[i] = fmt.Sprintf("[file:hashes.MD5 = '%032x'] FOLLOWEDBY [windows-registry-key:key = 'HKLM\\\\Run\\\\x%d'] WITHIN 300 SECONDS", i, i)
		case 18:
			out[i] = fmt.Sprintf("[process:command_line MATCHES '^cmd\\\\.exe /c %d'] REPEATS 3 TIMES", i)
		case 19:
			out[i] = fmt.Sprintf("[network-traffic:dst_ref.value = '192.0.2.%d' AND network-traffic:dst_port IN (443, 8443)]", i%256)
		}
	}
	return out
}

// BenchmarkCompile reports patterns/s over the mix.
func BenchmarkCompile(b *testing.B) {
	ps := benchPatterns(1000)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		if _, err := Compile(ps[n%len(ps)]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "patterns/s")
}

// benchObservations builds log-like observations: network traffic to a domain and an IP, or a
// file with hashes.
func benchObservations(n int) []Observation {
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	obs := make([]Observation, n)
	for i := range obs {
		ts := at.Add(time.Duration(i) * time.Second)
		var objs []Object
		if i%2 == 0 {
			objs = []Object{
				{Ref: "0", Props: map[string]any{"type": "network-traffic", "dst_ref": "1", "src_ref": "2", "dst_port": int64(443)}},
				{Ref: "1", Props: map[string]any{"type": "domain-name", "value": fmt.Sprintf("host%d.example", i%5000)}},
				{Ref: "2", Props: map[string]any{"type": "ipv4-addr", "value": fmt.Sprintf("10.0.%d.%d", i%256, (i/256)%256)}},
			}
		} else {
			objs = []Object{{Ref: "0", Props: map[string]any{"type": "file", "name": "x.exe", "hashes": map[string]any{"SHA-256": fmt.Sprintf("%064x", i%7000)}}}}
		}
		obs[i] = Observation{ID: fmt.Sprint(i), First: ts, Last: ts, Count: 1, Objects: objs}
	}
	return obs
}

// BenchmarkEvaluate reports observations/s: each compiled pattern of the mix evaluated against a
// batch of observations.
func BenchmarkEvaluate(b *testing.B) {
	var ps []*Pattern
	for _, s := range benchPatterns(100) {
		ps = append(ps, MustCompile(s))
	}
	obs := benchObservations(1000)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		if _, err := ps[n%len(ps)].Match(obs); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*len(obs))/b.Elapsed().Seconds(), "observations/s")
}
