package match_test

import (
	"bytes"
	"context"
	"flag"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/renkei-cti/renkei/internal/match"
	"github.com/renkei-cti/renkei/internal/match/synth"
	"github.com/renkei-cti/renkei/internal/store"
)

var benchN = flag.Int("match.n", 1_000_000, "indicators in the matching benchmarks")

var (
	benchOnce sync.Once
	benchIx   *match.Index
)

func benchIndex(b *testing.B) *match.Index {
	benchOnce.Do(func() {
		bl := match.NewBuilder(*benchN)
		if err := synth.Indicators(*benchN, 1, bl.Add); err != nil {
			b.Fatal(err)
		}
		benchIx = bl.Build()
	})
	return benchIx
}

// cpuTime returns the CPU time the process has used (user and system, all threads). The machines
// these benchmarks run on are shared, so beside the wall-clock rates the benchmarks report rates
// per CPU-second, which do not count the time other processes held the cores.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBuild builds an index of -match.n mixed indicators and reports the heap it keeps.
func BenchmarkBuild(b *testing.B) {
	n := *benchN
	entries := make([]match.Entry, n)
	for i := range entries {
		entries[i] = synth.Indicator(1, i)
	}
	var ix *match.Index
	var m0, m1 runtime.MemStats
	for b.Loop() {
		ix = nil
		runtime.GC()
		runtime.ReadMemStats(&m0)
		bl := match.NewBuilder(n)
		for _, e := range entries {
			if err := bl.Add(e); err != nil {
				b.Fatal(err)
			}
		}
		ix = bl.Build()
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(n), "heapB/indicator")
	b.ReportMetric(float64(ix.TableBytes())/float64(n), "tableB/indicator")
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "indicators/s")
	runtime.KeepAlive(ix)
}

// queries returns lookups over the indicator set, half of them present.
func queries(n, nind int) []match.Candidate {
	r := rand.New(rand.NewPCG(7, 7))
	qs := make([]match.Candidate, n)
	for i := range qs {
		e := synth.Indicator(1, r.IntN(nind))
		v := []byte(e.Value)
		if i%2 == 1 {
			e = synth.Indicator(2, r.IntN(nind)) // another set: misses
			v = []byte(e.Value)
		}
		if e.Kind == match.KindCIDR {
			e.Kind, v = match.KindIP, netip.MustParsePrefix(e.Value).Addr().AppendTo(nil)
		}
		qs[i] = match.Candidate{Kind: e.Kind, Value: v}
	}
	return qs
}

func BenchmarkLookup(b *testing.B) {
	ix := benchIndex(b)
	qs := queries(1<<20, *benchN)
	b.Run("single", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			var dst []uint32
			i := rand.IntN(len(qs))
			for pb.Next() {
				q := qs[i%len(qs)]
				dst = ix.Lookup(dst[:0], q.Kind, string(q.Value))
				i++
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	})
	b.Run("batch", func(b *testing.B) { benchBatch(b, ix, qs, false) })
	// As the Matcher looks values up when it verifies every hit with the patterns.
	b.Run("batch-unverified", func(b *testing.B) { benchBatch(b, ix, qs, true) })
}

// benchBatch looks qs up in batches on every core, with Searchers Unverified or not.
func benchBatch(b *testing.B, ix *match.Index, qs []match.Candidate, unverified bool) {
	{
		const batch = 1024
		var mu sync.Mutex
		hits := 0
		cpu0 := cpuTime(b)
		b.RunParallel(func(pb *testing.PB) {
			sr := match.Searcher{Unverified: unverified}
			snap := ix.Snapshot()
			i := rand.IntN(len(qs) / batch)
			h := 0
			for pb.Next() {
				// one iteration = one batch of lookups; b.N counts lookups below
				start := (i % (len(qs) / batch)) * batch
				snap.Search(&sr, qs[start:start+batch], func(int, []uint32) { h++ })
				i++
			}
			mu.Lock()
			hits += h
			mu.Unlock()
		})
		b.ReportMetric(float64(b.N)*batch/b.Elapsed().Seconds(), "lookups/s")
		b.ReportMetric(float64(b.N)*batch/(cpuTime(b)-cpu0).Seconds(), "lookups/cpu-s")
	}
}

// BenchmarkMatchText matches a 200k-line mixed text log (1% of the lines with an indicator's
// value) without a Verify function: the index compares the keys of its hits.
func BenchmarkMatchText(b *testing.B) {
	benchMatchText(b, &match.Matcher{Source: benchIndex(b)})
}

// BenchmarkMatchTextVerified is BenchmarkMatchText as renkei match, the server and the harness run
// it: with Compiled.Verify (every indicator has the pattern synth.Pattern gives it), so the index
// trusts the fingerprints of its hits and each hit is evaluated against the line's values.
func BenchmarkMatchTextVerified(b *testing.B) {
	c := benchCompiled(b)
	benchMatchText(b, &match.Matcher{Source: c.Index, Verify: c.Verify})
}

var (
	benchCompiledOnce sync.Once
	benchComp         *match.Compiled
)

// benchCompiled returns benchIndex with an indicator table: an id and a pattern for each entry.
func benchCompiled(b *testing.B) *match.Compiled {
	ix := benchIndex(b)
	benchCompiledOnce.Do(func() {
		c := &match.Compiled{Index: ix, At: time.Now()}
		var v store.Version
		for i := range *benchN {
			ref, err := c.Indicators.Add(synth.ID(i), &v, synth.Pattern(synth.Indicator(1, i)))
			if err != nil {
				b.Fatal(err)
			}
			if ref != uint32(i) {
				b.Fatalf("indicator %d got ref %d", i, ref)
			}
		}
		benchComp = c
	})
	return benchComp
}

func benchMatchText(b *testing.B, m *match.Matcher) {
	var log bytes.Buffer
	if _, err := synth.Log(&log, 200_000, *benchN, 1, 1); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(log.Len()))
	var st match.Stats
	hits := 0
	cpu0 := cpuTime(b)
	for b.Loop() {
		var err error
		hits = 0
		st, err = m.Run(context.Background(), bytes.NewReader(log.Bytes()), match.Text{}, func(*match.Hit) error { hits++; return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	cpu := (cpuTime(b) - cpu0).Seconds()
	b.ReportMetric(float64(st.Lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(st.Lines)*float64(b.N)/cpu, "lines/cpu-s")
	b.ReportMetric(float64(b.N)*float64(log.Len())/1e6/cpu, "MB/cpu-s")
	b.ReportMetric(float64(st.HitLines)/float64(st.Lines)*100, "%hitlines")
	b.ReportMetric(float64(hits), "hits")
}

// BenchmarkScanText runs the text scanner alone (no lookups) over the lines of the MatchText log.
func BenchmarkScanText(b *testing.B) {
	var log bytes.Buffer
	if _, err := synth.Log(&log, 200_000, *benchN, 1, 1); err != nil {
		b.Fatal(err)
	}
	// The lines keep the rest of the log as their capacity, as lines in the Matcher's chunks do.
	var lines [][]byte
	for d := log.Bytes(); len(d) > 0; {
		end := bytes.IndexByte(d, '\n')
		lines = append(lines, d[:end])
		d = d[end+1:]
	}
	b.SetBytes(int64(log.Len()))
	var ev match.Event
	cands := 0
	cpu0 := cpuTime(b)
	for b.Loop() {
		cands = 0
		for _, l := range lines {
			cands += match.ScanText(l, &ev)
		}
	}
	cpu := (cpuTime(b) - cpu0).Seconds()
	b.ReportMetric(float64(len(lines))*float64(b.N)/cpu, "lines/cpu-s")
	b.ReportMetric(float64(cands)/float64(len(lines)), "cands/line")
}
