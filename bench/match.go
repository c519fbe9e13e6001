package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/renkei-cti/renkei/internal/match"
	"github.com/renkei-cti/renkei/internal/match/synth"
	"github.com/renkei-cti/renkei/internal/store"
)

// The -match mode: for each size of a mixed indicator set (internal/match/synth) it measures the
// index build, its heap per indicator and batched lookups on all cores; writes the index file
// (with an indicator table: ids, labels and a pattern for each); then, in a child process, loads
// the file and matches a generated mixed log with it, patterns evaluated on every index hit, and
// reports the load time, the resident set after the load and after the log, and the throughput.
// Then lookups in a table of 1M CIDR blocks; and, for the sizes up to matchGrepMax, it runs
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
	lookups, nlookups := parallelLookups(ix.Snapshot(), qs, 4, false)
	lookupsCPU := float64(nlookups) / (cpuSeconds() - cpu0)
	// As the matcher looks values up when the patterns verify every hit.
	cpu0 = cpuSeconds()
	lookupsU, nlookupsU := parallelLookups(ix.Snapshot(), qs, 4, true)
	lookupsUCPU := float64(nlookupsU) / (cpuSeconds() - cpu0)
	qs = nil

	// The log, the values file for grep, and the index file.
	dir := filepath.Join(h.tmp, fmt.Sprintf("match-%d", n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if !h.cfg.keep {
		defer os.RemoveAll(dir)
	}
	logPath, valuesPath, indexPath := filepath.Join(dir, "log.txt"), filepath.Join(dir, "values.txt"), filepath.Join(dir, match.IndexFileName)
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
	writeSecs, fileBytes, err := writeIndexFile(indexPath, ix, entries)
	if err != nil {
		return err
	}
	tableBytes := ix.TableBytes()
	entries, ix = nil, nil
	runtime.GC()
	debug.FreeOSMemory()

	// Loading the file and matching the log with it, in a process of its own: its resident set
	// is the index's, not the generator's.
	res, err := matchInChild(ctx, indexPath, logPath, h.stderr)
	if err != nil {
		return err
	}
	fi, err := os.Stat(logPath)
	if err != nil {
		return err
	}
	if err := errors.Join(
		h.rec.add("match_build_seconds", n, build, "s"),
		h.rec.add("match_build_indicators_per_s", n, float64(n)/build, "indicators/s"),
		h.rec.add("match_heap_bytes_per_indicator", n, heap/float64(n), "bytes"),
		h.rec.add("match_table_bytes_per_indicator", n, float64(tableBytes)/float64(n), "bytes"),
		h.rec.add("match_lookups_per_s", n, lookups, "lookups/s"),
		h.rec.add("match_lookups_per_cpu_s", n, lookupsCPU, "lookups/cpu-s"),
		h.rec.add("match_lookups_unverified_per_s", n, lookupsU, "lookups/s"),
		h.rec.add("match_lookups_unverified_per_cpu_s", n, lookupsUCPU, "lookups/cpu-s"),
		h.rec.add("match_file_write_seconds", n, writeSecs, "s"),
		h.rec.add("match_file_bytes_per_indicator", n, float64(fileBytes)/float64(n), "bytes"),
		h.rec.add("match_load_seconds", n, res.LoadSeconds, "s"),
		h.rec.add("match_rss_after_load_mb", n, float64(res.RSSLoaded)/1024, "MiB"),
		h.rec.add("match_rss_after_log_mb", n, float64(res.RSSAfter)/1024, "MiB"),
		h.rec.add("match_peak_rss_mb", n, float64(res.HWMAfter)/1024, "MiB"),
		h.rec.add("match_log_lines_per_cpu_s", n, float64(res.Lines)/res.CPUSeconds, "lines/cpu-s"),
		h.rec.add("match_log_lines_per_s", n, float64(res.Lines)/res.Seconds, "lines/s"),
		h.rec.add("match_log_mb_per_s", n, float64(fi.Size())/1e6/res.Seconds, "MB/s"),
		h.rec.add("match_log_hit_lines", n, float64(res.HitLines), "lines"),
		h.rec.add("match_log_index_hits", n, float64(res.IndexHits), "values"),
		h.rec.add("match_log_lines", n, float64(res.Lines), "lines"),
	); err != nil {
		return err
	}
	if n > matchGrepMax {
		h.logger.Warn("grep -F not run above its size limit", "indicators", n, "limit", matchGrepMax)
		return nil
	}
	return h.grep(ctx, n, valuesPath, logPath)
}

// writeIndexFile writes the index file of ix with an indicator table for entries: an id, a
// pattern on the entry's value, and one of a few label sets for each. It returns the time the
// file took (written, synced and renamed; the table is built before) and the file's size.
func writeIndexFile(path string, ix *match.Index, entries []match.Entry) (float64, int64, error) {
	c := &match.Compiled{Index: ix, At: time.Now(), LastStored: time.Now()}
	labels := make([]store.Version, 8)
	for i := range labels {
		org := fmt.Sprintf("identity--00000000-0000-4000-8000-%012d", i%3)
		labels[i] = store.Version{CreatedByRef: org, Label: store.Label{Cell: uint8(i)}, OwnerLocal: i%2 == 0,
			Object: store.ObjectLabel{Label: store.Label{Cell: uint8(i)}, Owner: org, OwnerLocal: i%2 == 0}}
	}
	for i, e := range entries {
		if _, err := c.Indicators.Add(synth.ID(i), &labels[i%len(labels)], synth.Pattern(e)); err != nil {
			return 0, 0, err
		}
	}
	c.Stats.Active, c.Stats.Read, c.Stats.Entries = len(entries), len(entries), len(entries)
	start := time.Now()
	if err := c.WriteFile(path); err != nil {
		return 0, 0, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	return time.Since(start).Seconds(), fi.Size(), nil
}

// matchChildResult is what the -match child prints, as one JSON line.
type matchChildResult struct {
	LoadSeconds float64 `json:"load_seconds"` // match.OpenFile alone
	RSSLoaded   int64   `json:"rss_loaded"`   // VmRSS in KiB just after the load
	Seconds     float64 `json:"seconds"`      // matching the log, wall clock
	CPUSeconds  float64 `json:"cpu_seconds"`  // matching the log, all threads
	Lines       int64   `json:"lines"`
	HitLines    int64   `json:"hit_lines"`  // lines with a hit after the full evaluation
	IndexHits   int64   `json:"index_hits"` // values with an index hit, before it
	RSSAfter    int64   `json:"rss_after"`  // VmRSS in KiB after the log
	HWMAfter    int64   `json:"hwm_after"`  // VmHWM in KiB after the log
}

// runMatchChild loads an index file, matches a text log with it (patterns evaluated on every
// index hit, as renkei match does) and prints a matchChildResult.
func runMatchChild(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench match child", flag.ContinueOnError)
	fs.SetOutput(stderr)
	indexPath := fs.String("index", "", "index file")
	logPath := fs.String("log", "", "text log")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	res, err := childMatch(ctx, *indexPath, *logPath)
	if err == nil {
		err = json.NewEncoder(stdout).Encode(res)
	}
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	return 0
}

func childMatch(ctx context.Context, indexPath, logPath string) (res matchChildResult, err error) {
	start := time.Now()
	c, err := match.OpenFile(indexPath, match.OpenOptions{})
	if err != nil {
		return res, err
	}
	res.LoadSeconds = time.Since(start).Seconds()
	defer func() { err = errors.Join(err, c.Close()) }()
	if res.RSSLoaded, _, err = procStatus(); err != nil {
		return res, err
	}
	f, err := os.Open(logPath)
	if err != nil {
		return res, err
	}
	defer f.Close()
	var indexHits atomic.Int64
	verify := func(refs []uint32, line []match.Candidate, t time.Time) []uint32 {
		indexHits.Add(1)
		return c.Verify(refs, line, t)
	}
	m := &match.Matcher{Source: c.Index, Verify: verify}
	start = time.Now()
	cpu0 := cpuSeconds()
	st, err := m.Run(ctx, bufio.NewReaderSize(f, 1<<20), match.Text{}, func(*match.Hit) error { return nil })
	res.Seconds, res.CPUSeconds = time.Since(start).Seconds(), cpuSeconds()-cpu0
	if err != nil {
		return res, fmt.Errorf("matching: %w", err)
	}
	res.Lines, res.HitLines, res.IndexHits = st.Lines, st.HitLines, indexHits.Load()
	if res.RSSAfter, res.HWMAfter, err = procStatus(); err != nil {
		return res, err
	}
	runtime.KeepAlive(c)
	return res, nil
}

// matchInChild re-executes the harness to load the index file and match the log.
func matchInChild(ctx context.Context, indexPath, logPath string, stderr io.Writer) (matchChildResult, error) {
	var res matchChildResult
	exe, err := os.Executable()
	if err != nil {
		return res, fmt.Errorf("finding the harness binary: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, "-index", indexPath, "-log", logPath)
	cmd.Env = append(os.Environ(), childEnv+"=match")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("matching in a child process: %w", err)
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return res, fmt.Errorf("reading the child's result %q: %w", out.String(), err)
	}
	return res, nil
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
	lookups, nlookups := parallelLookups(ix.Snapshot(), qs, 4, false)
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

// parallelLookups looks up qs rounds times over on every core, in batches of 1024, with Searchers
// Unverified or not, and returns lookups per second and the number of lookups.
func parallelLookups(s *match.Snapshot, qs []match.Candidate, rounds int, unverified bool) (float64, int) {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			sr := match.Searcher{Unverified: unverified}
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
