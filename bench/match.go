package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/renkei-cti/renkei/internal/match"
	"github.com/renkei-cti/renkei/internal/match/synth"
)

// The -match mode: for each size of a mixed indicator set (internal/match/synth) it measures the
// index build, its heap per indicator, batched lookups on all cores, and matching a generated mixed
// log; then lookups in a table of 1M CIDR blocks; and, for the sizes up to matchGrepMax, it runs
// `grep -F -c -f values.txt log` over the same log and values and records both hit counts.
const (
	matchSizes      = "100000,1000000,10000000"
	matchQuickSizes = "10000,100000,1000000"
	matchLogLines   = 1_000_000
	matchHitPct     = 1.0
	matchGrepMax    = 1_000_000
	matchGrepLimit  = 90 * time.Second
	matchCIDRs      = 1_000_000
)

func sizeSet(fs *flag.FlagSet) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "sizes" })
	return set
}

func (h *harness) matchBench(ctx context.Context) error {
	for _, n := range h.cfg.sizes {
		if err := h.matchSize(ctx, n); err != nil {
			return fmt.Errorf("%d indicators: %w", n, err)
		}
	}
	if err := h.matchCIDR(); err != nil {
		return err
	}
	if err := writeMatchPlot(h.cfg.plotPath, h.rec); err != nil {
		return err
	}
	fmt.Fprintf(h.stderr, "# wrote %s and %s\n", h.cfg.csvPath, h.cfg.plotPath)
	return nil
}

func (h *harness) matchSize(ctx context.Context, n int) error {
	seed := uint64(h.cfg.seed)
	h.logger.Info("generating indicators", "n", n)
	entries := make([]match.Entry, n)
	for i := range entries {
		entries[i] = synth.Indicator(seed, i)
	}
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	b := match.NewBuilder(n)
	for _, e := range entries {
		if err := b.Add(e); err != nil {
			return err
		}
	}
	ix := b.Build()
	build := time.Since(start).Seconds()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	heap := float64(int64(m1.HeapAlloc) - int64(m0.HeapAlloc))

	// Lookups: half present, half from another set; batched, one Searcher per core.
	qs := make([]match.Candidate, 1<<20)
	r := rand.New(rand.NewPCG(seed, 99))
	for i := range qs {
		e := entries[r.IntN(n)]
		if i%2 == 1 {
			e = synth.Indicator(seed+1, r.IntN(n))
		}
		v := []byte(e.Value)
		if e.Kind == match.KindCIDR {
			e.Kind, v = match.KindIP, netip.MustParsePrefix(e.Value).Addr().AppendTo(nil)
		}
		qs[i] = match.Candidate{Kind: e.Kind, Value: v}
	}
	cpu0 := cpuSeconds()
	lookups, nlookups := parallelLookups(ix.Snapshot(), qs, 4)
	lookupsCPU := float64(nlookups) / (cpuSeconds() - cpu0)

	// The log, and the values file for grep.
	dir := filepath.Join(h.tmp, fmt.Sprintf("match-%d", n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if !h.cfg.keep {
		defer os.RemoveAll(dir)
	}
	logPath, valuesPath := filepath.Join(dir, "log.txt"), filepath.Join(dir, "values.txt")
	if err := writeFile(logPath, func(w *bufio.Writer) error {
		_, err := synth.Log(w, matchLogLines, n, seed, matchHitPct)
		return err
	}); err != nil {
		return err
	}
	if err := writeFile(valuesPath, func(w *bufio.Writer) error {
		for _, e := range entries {
			w.WriteString(e.Value)
			w.WriteByte('\n')
		}
		return nil
	}); err != nil {
		return err
	}
	entries = nil
	runtime.GC()
	f, err := os.Open(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	m := &match.Matcher{Source: ix}
	start = time.Now()
	cpu0 = cpuSeconds()
	st, err := m.Run(ctx, bufio.NewReaderSize(f, 1<<20), match.Text{}, func(*match.Hit) error { return nil })
	secs := time.Since(start).Seconds()
	cpuSecs := cpuSeconds() - cpu0
	if err != nil {
		return fmt.Errorf("matching: %w", err)
	}
	_, hwm, err := procStatus()
	if err != nil {
		return err
	}
	runtime.KeepAlive(ix)
	if err := errors.Join(
		h.rec.add("match_build_seconds", n, build, "s"),
		h.rec.add("match_build_indicators_per_s", n, float64(n)/build, "indicators/s"),
		h.rec.add("match_heap_bytes_per_indicator", n, heap/float64(n), "bytes"),
		h.rec.add("match_table_bytes_per_indicator", n, float64(ix.TableBytes())/float64(n), "bytes"),
		h.rec.add("match_lookups_per_s", n, lookups, "lookups/s"),
		h.rec.add("match_lookups_per_cpu_s", n, lookupsCPU, "lookups/cpu-s"),
		h.rec.add("match_log_lines_per_cpu_s", n, float64(st.Lines)/cpuSecs, "lines/cpu-s"),
		h.rec.add("match_log_lines_per_s", n, float64(st.Lines)/secs, "lines/s"),
		h.rec.add("match_log_mb_per_s", n, float64(fi.Size())/1e6/secs, "MB/s"),
		h.rec.add("match_log_hit_lines", n, float64(st.HitLines), "lines"),
		h.rec.add("match_log_lines", n, float64(st.Lines), "lines"),
		h.rec.add("match_peak_rss_mb", n, float64(hwm)/1024, "MiB"),
	); err != nil {
		return err
	}
	if n > matchGrepMax {
		h.logger.Warn("grep -F not run above its size limit", "indicators", n, "limit", matchGrepMax)
		return nil
	}
	return h.grep(ctx, n, valuesPath, logPath)
}

// grep runs grep -F -c -f over the same values and log and records its time, memory and count.
func (h *harness) grep(ctx context.Context, n int, values, logPath string) error {
	ctx, cancel := context.WithTimeout(ctx, matchGrepLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "grep", "-F", "-c", "-f", values, logPath)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, h.stderr
	start := time.Now()
	err := cmd.Run()
	secs := time.Since(start).Seconds()
	if ctx.Err() != nil {
		h.logger.Warn("grep -F timed out", "indicators", n, "limit", matchGrepLimit)
		return h.rec.add("grep_timed_out", n, secs, "s")
	}
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return fmt.Errorf("grep: %w", err)
	}
	count, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		return fmt.Errorf("grep printed %q: %w", out.String(), err)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return errors.Join(
		h.rec.add("grep_seconds", n, secs, "s"),
		h.rec.add("grep_lines_per_s", n, matchLogLines/secs, "lines/s"),
		h.rec.add("grep_hit_lines", n, float64(count), "lines"),
		h.rec.add("grep_peak_rss_mb", n, float64(rss)/1024, "MiB"),
	)
}

// matchCIDR measures lookups of uniformly random addresses in a table of 1M IPv4 and IPv6 blocks.
func (h *harness) matchCIDR() error {
	r := rand.New(rand.NewPCG(uint64(h.cfg.seed), 1))
	b := match.NewBuilder(matchCIDRs)
	for i := range matchCIDRs {
		var p netip.Prefix
		if i%5 == 0 {
			var a [16]byte
			a[0], a[1] = 0x20, byte(1+r.IntN(15))
			for j := 2; j < 8; j++ {
				a[j] = byte(r.Uint32())
			}
			p = netip.PrefixFrom(netip.AddrFrom16(a), 32+r.IntN(33)).Masked()
		} else {
			v := r.Uint32()
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 16+r.IntN(17)).Masked()
		}
		if err := b.Add(match.Entry{Kind: match.KindCIDR, Value: p.String(), Ref: uint32(i)}); err != nil {
			return err
		}
	}
	start := time.Now()
	ix := b.Build()
	build := time.Since(start).Seconds()
	qs := make([]match.Candidate, 1<<20)
	for i := range qs {
		var a netip.Addr
		if i%2 == 0 {
			v := r.Uint32()
			a = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		} else {
			var b16 [16]byte
			b16[0], b16[1] = 0x20, byte(1+r.IntN(15))
			for j := 2; j < 16; j++ {
				b16[j] = byte(r.Uint32())
			}
			a = netip.AddrFrom16(b16)
		}
		qs[i] = match.Candidate{Kind: match.KindIP, Value: a.AppendTo(nil)}
	}
	cpu0 := cpuSeconds()
	lookups, nlookups := parallelLookups(ix.Snapshot(), qs, 4)
	return errors.Join(
		h.rec.add("cidr_build_seconds", matchCIDRs, build, "s"),
		h.rec.add("cidr_lookups_per_s", matchCIDRs, lookups, "lookups/s"),
		h.rec.add("cidr_lookups_per_cpu_s", matchCIDRs, float64(nlookups)/(cpuSeconds()-cpu0), "lookups/cpu-s"),
	)
}

// cpuSeconds returns the CPU time the process has used so far, all threads. The benchmark machine
// is shared: rates per CPU-second leave out the time other processes held the cores.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// parallelLookups looks up qs rounds times over on every core, in batches of 1024, and returns
// lookups per second and the number of lookups.
func parallelLookups(s *match.Snapshot, qs []match.Candidate, rounds int) (float64, int) {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			var sr match.Searcher
			n := 0
			for k := range rounds {
				for i := (w + k) % workers * 1024; i+1024 <= len(qs); i += 1024 {
					s.Search(&sr, qs[i:i+1024], func(int, []uint32) {})
					n += 1024
				}
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	return float64(total) / time.Since(start).Seconds(), total
}

func writeFile(path string, fill func(*bufio.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = fill(w)
	if err := errors.Join(err, w.Flush(), f.Close()); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
