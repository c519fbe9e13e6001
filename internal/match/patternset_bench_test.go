package match_test

import (
	"bytes"
	"flag"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/renkei-cti/renkei/internal/match"
	"github.com/renkei-cti/renkei/internal/match/synth"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
)

var (
	benchPatternsN = flag.Int("patterns.n", 100_000, "STIX patterns in BenchmarkPatternSet")
	benchObsN      = flag.Int("patterns.obs", 100_000, "observations in BenchmarkPatternSet")
)

// benchObservations generates n observed-data observations (STIX 2.1 and 2.0) of which 1% carry a
// value of one of npat patterns, and decodes them as `renkei pattern match` does.
func benchObservations(b *testing.B, n, npat int) []pattern.Observation {
	var obs []pattern.Observation
	const batch = 20_000 // observations per JSON array: within pattern.DefaultInputLimits
	for lo := 0; lo < n; lo += batch {
		var buf bytes.Buffer
		if _, err := synth.STIXObservations(&buf, lo, min(batch, n-lo), npat, 1, 1); err != nil {
			b.Fatal(err)
		}
		o, err := pattern.ReadObservations(&buf, pattern.DefaultInputLimits)
		if err != nil {
			b.Fatal(err)
		}
		obs = append(obs, o...)
	}
	return obs
}

// evaluateAll matches every observation on every core and returns the matches found.
func evaluateAll(s *match.PatternSet, obs []pattern.Observation) (matched, evals int64) {
	workers := runtime.GOMAXPROCS(0)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range workers {
		wg.Go(func() {
			m := s.NewMatcher()
			var dst []int32
			var n int64
			for {
				lo := int(next.Add(256)) - 256
				if lo >= len(obs) {
					break
				}
				for i := lo; i < min(lo+256, len(obs)); i++ {
					dst = m.Match(dst[:0], &obs[i])
					if len(dst) > 0 {
						n++
					}
				}
			}
			mu.Lock()
			matched += n
			evals += m.Evals
			mu.Unlock()
		})
	}
	wg.Wait()
	return matched, evals
}

// BenchmarkPatternSet measures the "100k STIX patterns" figures: compiling -patterns.n
// patterns of the realistic mix (synth.STIXPattern) into a PatternSet on all cores, and evaluating
// -patterns.obs observed-data observations against all of them on all cores (decoded beforehand;
// Evaluate with the set as CompilePatterns makes it by default, EvaluateKept with KeepCompiled;
// Decode times the decoding alone, one core). Rates are reported per second and per CPU-second.
func BenchmarkPatternSet(b *testing.B) {
	npat := *benchPatternsN
	texts := synth.STIXPatterns(npat, 1)
	b.Run("Compile", func(b *testing.B) {
		var c0 = cpuTime(b)
		n := 0
		for b.Loop() {
			s, errs := match.CompilePatterns(texts, match.PatternSetOptions{})
			if len(errs) > 0 {
				b.Fatal(errs[0])
			}
			n += s.Len()
		}
		cpu := (cpuTime(b) - c0).Seconds()
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "patterns/s")
		b.ReportMetric(float64(n)/cpu, "patterns/cpu-s")
	})
	var obs []pattern.Observation
	for _, keep := range []bool{false, true} {
		name := "Evaluate"
		if keep {
			name = "EvaluateKept"
		}
		b.Run(name, func(b *testing.B) {
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			s, errs := match.CompilePatterns(texts, match.PatternSetOptions{KeepCompiled: keep})
			if len(errs) > 0 {
				b.Fatal(errs[0])
			}
			runtime.GC()
			runtime.ReadMemStats(&m1)
			if obs == nil {
				obs = benchObservations(b, *benchObsN, npat)
			}
			runtime.GC()
			b.ResetTimer()
			c0 := cpuTime(b)
			n, hits, evals := 0, int64(0), int64(0)
			for b.Loop() {
				h, e := evaluateAll(s, obs)
				n += len(obs)
				hits += h
				evals += e
			}
			cpu := (cpuTime(b) - c0).Seconds()
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "obs/s")
			b.ReportMetric(float64(n)/cpu, "obs/cpu-s")
			b.ReportMetric(float64(hits)/float64(n), "matched/obs")
			b.ReportMetric(float64(evals)/float64(n), "evals/obs")
			b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(npat), "heap-B/pattern")
			runtime.KeepAlive(s)
		})
	}
	b.Run("Decode", func(b *testing.B) {
		var buf bytes.Buffer
		const n = 20_000
		if _, err := synth.STIXObservations(&buf, 0, n, npat, 1, 1); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(buf.Len()))
		c0 := cpuTime(b)
		count := 0
		for b.Loop() {
			o, err := pattern.ReadObservations(bytes.NewReader(buf.Bytes()), pattern.DefaultInputLimits)
			if err != nil {
				b.Fatal(err)
			}
			count += len(o)
		}
		b.ReportMetric(float64(count)/b.Elapsed().Seconds(), "obs/s")
		b.ReportMetric(float64(count)/(cpuTime(b)-c0).Seconds(), "obs/cpu-s")
	})
}
