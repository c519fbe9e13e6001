package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/renkei-cti/renkei/internal/match"
	"github.com/renkei-cti/renkei/internal/match/synth"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
)

// The -patterns mode: issue 5's "100k STIX patterns: compile at ≥ 100k per second and evaluate
// ≥ 200k observations per second". For each size, a set of STIX patterns of a realistic mix
// (synth.STIXPattern: exact values, CIDR blocks, LIKE, MATCHES, AND across referenced objects,
// FOLLOWEDBY … WITHIN, REPEATS, range comparisons) is compiled into a match.PatternSet on all cores;
// then a stream of STIX observed-data (2.1 with object_refs and SCOs, one in five 2.0 with an
// objects dictionary; 1% carry a value of one of the patterns) is evaluated against all of them on
// all cores: decoded beforehand (the evaluation alone), and from the JSON (decoding included); and
// decoded beforehand again with every compiled pattern kept (KeepCompiled: more memory).
// For comparison, a sample of observations is evaluated the naive way, every pattern on every
// observation (pattern.MatchOne), on one core.
const (
	patternsSizes      = "10000,100000,1000000"
	patternsQuickSizes = "1000,10000,100000"
	patternsObs        = 200_000
	patternsBatch      = 10_000 // observations per JSON array
	patternsHitPct     = 1.0
)

type patternsConfig struct {
	on bool
	fs *flag.FlagSet // to tell whether -sizes was given
}

func (c *patternsConfig) register(fs *flag.FlagSet) {
	c.fs = fs
	fs.BoolVar(&c.on, "patterns", false, "benchmark STIX pattern sets evaluated against observed-data instead (sizes in patterns; default "+patternsSizes+", -quick "+patternsQuickSizes+"); writes patterns.csv and patterns.png")
}

// sizes returns the sizes to measure: -sizes when given, else the mode's defaults.
func (c *patternsConfig) sizes(given []int) ([]int, error) {
	if sizeSet(c.fs) {
		return given, nil
	}
	s := patternsSizes
	if q := c.fs.Lookup("quick"); q != nil && q.Value.String() == "true" {
		s = patternsQuickSizes
	}
	return parseSizes(s)
}

func (h *harness) patternsBench(ctx context.Context) error {
	sizes, err := h.cfg.pat.sizes(h.cfg.sizes)
	if err != nil {
		return err
	}
	for _, n := range sizes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := h.patternsSize(n); err != nil {
			return fmt.Errorf("%d patterns: %w", n, err)
		}
	}
	if err := writePatternsPlot(h.cfg.plotPath, h.rec); err != nil {
		return err
	}
	fmt.Fprintf(h.stderr, "# wrote %s and %s\n", h.cfg.csvPath, h.cfg.plotPath)
	return nil
}

func (h *harness) patternsSize(n int) error {
	seed := uint64(h.cfg.seed)
	h.logger.Info("generating patterns", "n", n)
	texts := synth.STIXPatterns(n, seed)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	start, cpu0 := time.Now(), cpuSeconds()
	set, errs := match.CompilePatterns(texts, match.PatternSetOptions{})
	secs, cpu := time.Since(start).Seconds(), cpuSeconds()-cpu0
	if len(errs) > 0 {
		return fmt.Errorf("%d patterns did not compile, the first: %w", len(errs), errs[0])
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	heap := float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / float64(n)
	st := set.Stats()

	// The observations, as JSON arrays of STIX objects.
	h.logger.Info("generating observations", "n", patternsObs)
	var batches [][]byte
	planted := 0
	for lo := 0; lo < patternsObs; lo += patternsBatch {
		var buf bytes.Buffer
		p, err := synth.STIXObservations(&buf, lo, min(patternsBatch, patternsObs-lo), n, seed, patternsHitPct)
		if err != nil {
			return err
		}
		planted += p
		batches = append(batches, buf.Bytes())
	}
	// Decoding and evaluating, every batch by one worker, on every core.
	var decoded [][]pattern.Observation
	var mu sync.Mutex
	start, cpu0 = time.Now(), cpuSeconds()
	matchedE2E, _, err := forBatches(len(batches), func(i int, m *match.PatternMatcher, dst []int32) ([]int32, int64, error) {
		obs, err := pattern.ReadObservations(bytes.NewReader(batches[i]), pattern.DefaultInputLimits)
		if err != nil {
			return dst, 0, err
		}
		matched := int64(0)
		for j := range obs {
			if dst = m.Match(dst[:0], &obs[j]); len(dst) > 0 {
				matched++
			}
		}
		mu.Lock()
		decoded = append(decoded, obs)
		mu.Unlock()
		return dst, matched, nil
	}, set)
	e2eSecs, e2eCPU := time.Since(start).Seconds(), cpuSeconds()-cpu0
	if err != nil {
		return err
	}
	batches = nil
	// The evaluation alone, on the decoded observations (three rounds).
	runtime.GC()
	const rounds = 3
	var evals atomic.Int64
	var matched int64
	start, cpu0 = time.Now(), cpuSeconds()
	for range rounds {
		matched, _, err = forBatches(len(decoded), func(i int, m *match.PatternMatcher, dst []int32) ([]int32, int64, error) {
			k := int64(0)
			e0 := m.Evals
			for j := range decoded[i] {
				if dst = m.Match(dst[:0], &decoded[i][j]); len(dst) > 0 {
					k++
				}
			}
			evals.Add(m.Evals - e0)
			return dst, k, nil
		}, set)
		if err != nil {
			return err
		}
	}
	evalSecs, evalCPU := time.Since(start).Seconds(), cpuSeconds()-cpu0
	if matched != matchedE2E {
		return fmt.Errorf("the evaluation matched %d observations, decoding and evaluating %d", matched, matchedE2E)
	}
	// The same with every compiled pattern kept (match.PatternSetOptions.KeepCompiled).
	set = nil
	runtime.GC()
	runtime.ReadMemStats(&m0)
	kept, errs := match.CompilePatterns(texts, match.PatternSetOptions{KeepCompiled: true})
	if len(errs) > 0 {
		return fmt.Errorf("%d patterns did not compile, the first: %w", len(errs), errs[0])
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	heapKept := float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc)) / float64(n)
	start, cpu0 = time.Now(), cpuSeconds()
	var matchedKept int64
	for range rounds {
		if matchedKept, _, err = forBatches(len(decoded), func(i int, m *match.PatternMatcher, dst []int32) ([]int32, int64, error) {
			k := int64(0)
			for j := range decoded[i] {
				if dst = m.Match(dst[:0], &decoded[i][j]); len(dst) > 0 {
					k++
				}
			}
			return dst, k, nil
		}, kept); err != nil {
			return err
		}
	}
	keptSecs, keptCPU := time.Since(start).Seconds(), cpuSeconds()-cpu0
	if matchedKept != matched {
		return fmt.Errorf("with the compiled patterns kept %d observations matched, else %d", matchedKept, matched)
	}
	set = kept

	// The naive way, on a sample: every pattern on every observation, one core.
	all := slices.Concat(decoded...)
	decoded = nil
	sample := min(max(1_000_000/n, 2), 100)
	step := len(all) / sample
	start, cpu0 = time.Now(), cpuSeconds()
	for k := range sample {
		o := &all[k*step]
		for i := range set.Len() {
			set.Pattern(i).MatchOne(o)
		}
	}
	naiveSecs, naiveCPU := time.Since(start).Seconds(), cpuSeconds()-cpu0

	nobs := float64(patternsObs)
	for _, f := range []struct {
		name  string
		value float64
		unit  string
	}{
		{"patterns_compile_per_s", float64(n) / secs, "patterns/s"},
		{"patterns_compile_per_cpu_s", float64(n) / cpu, "patterns/cpu-s"},
		{"patterns_compile_seconds", secs, "s"},
		{"patterns_heap_bytes_per_pattern", heap, "B"},
		{"patterns_exact", float64(st.Exact), "patterns"},
		{"patterns_cidr", float64(st.CIDR), "patterns"},
		{"patterns_literal", float64(st.Literal), "patterns"},
		{"patterns_range", float64(st.Range), "patterns"},
		{"patterns_type_gated", float64(st.TypeGated), "patterns"},
		{"patterns_kept_heap_bytes_per_pattern", heapKept, "B"},
		{"patterns_kept_eval_obs_per_s", rounds * nobs / keptSecs, "obs/s"},
		{"patterns_kept_eval_obs_per_cpu_s", rounds * nobs / keptCPU, "obs/cpu-s"},
		{"patterns_eval_obs_per_s", rounds * nobs / evalSecs, "obs/s"},
		{"patterns_eval_obs_per_cpu_s", rounds * nobs / evalCPU, "obs/cpu-s"},
		{"patterns_decode_eval_obs_per_s", nobs / e2eSecs, "obs/s"},
		{"patterns_decode_eval_obs_per_cpu_s", nobs / e2eCPU, "obs/cpu-s"},
		{"patterns_naive_obs_per_s", float64(sample) / naiveSecs, "obs/s"},
		{"patterns_naive_obs_per_cpu_s", float64(sample) / naiveCPU, "obs/cpu-s"},
		{"patterns_planted_obs", float64(planted), "obs"},
		{"patterns_matched_obs", float64(matched), "obs"},
		{"patterns_full_evals_per_obs", float64(evals.Load()) / (rounds * nobs), "evals"},
	} {
		if err := h.rec.add(f.name, n, f.value, f.unit); err != nil {
			return err
		}
	}
	return nil
}

// forBatches runs fn for batches 0 to n-1 on every core, each worker with its own matcher, and
// returns the sum of what fn counted and the number of batches run.
func forBatches(n int, fn func(i int, m *match.PatternMatcher, dst []int32) ([]int32, int64, error), set *match.PatternSet) (int64, int, error) {
	var next, total atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, runtime.GOMAXPROCS(0))
	for w := range errs {
		wg.Go(func() {
			m := set.NewMatcher()
			var dst []int32
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				var k int64
				var err error
				if dst, k, err = fn(i, m, dst); err != nil {
					errs[w] = err
					return
				}
				total.Add(k)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, 0, err
		}
	}
	return total.Load(), n, nil
}
