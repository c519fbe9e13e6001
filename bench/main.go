// Command bench is renkei's benchmark harness. For each bundle size it generates a realistic STIX 2.1
// bundle (package bench/gen), then measures decoding and validation on one core, a durable import into
// a fresh SQLite store through the ingest pipeline, and the import's peak memory (measured in a child
// process of its own). It also times the import of MITRE ATT&CK Enterprise, and can check that
// importing a bundle of about 1 GB raises peak memory by no more than a set limit.
//
// It prints one line per figure, "figure=<name> size=<objects> value=<v> unit=<u>", writes the same
// figures to a CSV file and draws how throughput and memory grow with size to a PNG file.
//
//	go run ./bench                      # 10k, 100k and 1M objects, then ATT&CK
//	go run ./bench -quick               # 1k, 10k and 50k objects, then ATT&CK
//	go run ./bench -sizes=5000,20000 -attack=none
//	go run ./bench -rss-gb=1            # the 1 GB memory check alone (exit status 1 if it fails)
//	go run ./bench -taxii               # the TAXII server over loopback (bench/taxii.go); writes taxii.csv, taxii.png
//	go run ./bench -misp                # renkei import --format misp of generated events (bench/misp.go); writes misp.csv
//	go run ./bench -correlate           # correlation against 100k, 1M, 10M stored observables (bench/correlate.go)
//
// It is run by hand, not by the test suite: the figures depend on the machine and its load.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/renkei-cti/renkei/bench/gen"
	"github.com/renkei-cti/renkei/internal/stix"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var code int
	if os.Getenv(childEnv) == "import" {
		code = runChild(ctx, os.Args[1:], os.Stdout, os.Stderr)
	} else if os.Getenv(childEnv) == "match" {
		code = runMatchChild(ctx, os.Args[1:], os.Stdout, os.Stderr) // bench/match.go
	} else {
		code = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	os.Exit(code)
}

// config is what the command line asks for.
type config struct {
	sizes      []int
	outDir     string
	csvPath    string
	plotPath   string
	attack     string // path of the ATT&CK bundle; "" when it is not measured
	noAttack   bool   // -attack=none: not measured on purpose
	rssGB      float64
	rssLimitMB float64
	seed       int64
	tmpDir     string
	keep       bool
	batch      int
	verbose    bool
	match      bool // -match: the matching engine's benchmarks (bench/match.go) instead of the import's
	// -taxii: the TAXII server's benchmarks (bench/taxii.go) instead of the import's.
	taxii taxiiConfig
	misp  mispConfig     // -misp: `renkei import --format misp` of generated MISP events (bench/misp.go)
	corr  corrConfig     // -correlate: correlation against stored observables (bench/correlate.go)
	pat   patternsConfig // -patterns: STIX pattern sets against observed-data (bench/patterns.go)
}

const (
	defaultSizes = "10000,100000,1000000"
	quickSizes   = "1000,10000,50000"
	attackFile   = "enterprise-attack.json.gz"
)

// parseFlags reads the command line. errHelp-style errors are returned as is.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizes := fs.String("sizes", defaultSizes, "comma-separated bundle sizes, in objects")
	quick := fs.Bool("quick", false, "use the sizes "+quickSizes+" (overrides -sizes)")
	fs.StringVar(&c.outDir, "out", "", "folder for results.csv and import.png (default: bench/out in the module)")
	fs.StringVar(&c.csvPath, "csv", "", "CSV file of the figures (default: <out>/results.csv)")
	fs.StringVar(&c.plotPath, "plot", "", "PNG plot of throughput and memory against size (default: <out>/import.png)")
	fs.StringVar(&c.attack, "attack", "", "ATT&CK Enterprise bundle (.json or .json.gz) to time; \"none\" skips it (default: found in shared/testdata)")
	fs.Float64Var(&c.rssGB, "rss-gb", 0, "run only the memory check: import a generated bundle of this many GiB and compare the rise in peak RSS with -rss-limit-mb")
	fs.Float64Var(&c.rssLimitMB, "rss-limit-mb", 100, "the largest acceptable rise in peak RSS for -rss-gb, in MiB")
	fs.Int64Var(&c.seed, "seed", 1, "seed of the generated bundles")
	fs.StringVar(&c.tmpDir, "tmp", "", "folder for the bundles and databases (default: the system's temporary folder)")
	fs.BoolVar(&c.keep, "keep", false, "keep the generated bundles and databases")
	fs.IntVar(&c.batch, "batch", 0, "objects per import transaction (0: the ingest default)")
	fs.BoolVar(&c.verbose, "v", false, "log progress")
	fs.BoolVar(&c.match, "match", false, "benchmark the matching engine instead (sizes in indicators; default "+matchSizes+", -quick "+matchQuickSizes+"); writes match.csv and match.png")
	c.taxii.register(fs)
	c.corr.register(fs)
	c.misp.register(fs)
	c.pat.register(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.match && !sizeSet(fs) {
		*sizes = matchSizes
		if *quick {
			*sizes = matchQuickSizes
		}
	} else if c.taxii.on && !sizeSet(fs) {
		*sizes = taxiiSizes
		if *quick {
			*sizes = taxiiQuickSizes
		}
	} else if c.corr.on && !sizeSet(fs) {
		*sizes = corrSizes
		if *quick {
			*sizes = corrQuickSizes
		}
	} else if *quick {
		*sizes = quickSizes
	}
	var err error
	if c.sizes, err = parseSizes(*sizes); err != nil {
		return c, err
	}
	if c.rssGB < 0 || c.rssLimitMB <= 0 {
		return c, errors.New("-rss-gb must not be negative and -rss-limit-mb must be positive")
	}
	if c.outDir == "" {
		c.outDir = filepath.Join(moduleRoot(), "bench", "out")
	}
	csvName, plotName := "results.csv", "import.png"
	if c.match {
		csvName, plotName = "match.csv", "match.png"
	}
	if c.taxii.on {
		csvName, plotName = "taxii.csv", "taxii.png"
	}
	if c.corr.on {
		csvName, plotName = "correlate.csv", "correlate.png"
	}
	if c.misp.on {
		csvName = "misp.csv"
	}
	if c.pat.on {
		csvName, plotName = "patterns.csv", "patterns.png"
	}
	c.csvPath = cmp.Or(c.csvPath, filepath.Join(c.outDir, csvName))
	c.plotPath = cmp.Or(c.plotPath, filepath.Join(c.outDir, plotName))
	switch c.attack {
	case "none":
		c.attack, c.noAttack = "", true
	case "":
		c.attack = findAttack()
	}
	return c, nil
}

// maxSize bounds one bundle: 20M objects is about 13 GB of JSON.
const maxSize = 20_000_000

// parseSizes reads "10000,100000" or "10k,1M".
func parseSizes(s string) ([]int, error) {
	var sizes []int
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		mult := 1
		switch {
		case strings.HasSuffix(part, "k"):
			mult, part = 1000, strings.TrimSuffix(part, "k")
		case strings.HasSuffix(part, "M"):
			mult, part = 1000000, strings.TrimSuffix(part, "M")
		}
		n, err := strconv.Atoi(part)
		if err != nil || n <= 0 || n > maxSize/mult {
			return nil, fmt.Errorf("-sizes: %q is not a number of objects between 1 and %d", part, maxSize)
		}
		sizes = append(sizes, n*mult)
	}
	return sizes, nil
}

// moduleRoot returns the nearest folder at or above the working directory holding go.mod, or the
// working directory itself.
func moduleRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return wd
		}
		dir = parent
	}
}

// findAttack looks for the ATT&CK Enterprise bundle where the tests find the shared data:
// $RENKEI_TESTDATA/attack, else shared/testdata/attack beside or inside a folder at or above the
// working directory. It returns "" when there is none.
func findAttack() string {
	if d := os.Getenv("RENKEI_TESTDATA"); d != "" {
		return existing(filepath.Join(d, "attack", attackFile))
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; {
		for _, cand := range []string{
			filepath.Join(dir, "..", "shared", "testdata", "attack", attackFile),
			filepath.Join(dir, "shared", "testdata", "attack", attackFile),
		} {
			if p := existing(cand); p != "" {
				return p
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func existing(p string) string {
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return filepath.Clean(p)
}

// run is the harness; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 2
	}
	level := slog.LevelWarn
	if c.verbose {
		level = slog.LevelInfo
	}
	h := &harness{
		cfg:    c,
		logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
		stderr: stderr,
	}
	if err := h.run(ctx, stdout); err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	return 0
}

// errCheckFailed is returned when the -rss-gb check measures more than the limit.
var errCheckFailed = errors.New("memory check failed")

type harness struct {
	cfg    config
	logger *slog.Logger
	stderr io.Writer
	rec    *recorder
	tmp    string
}

func (h *harness) run(ctx context.Context, stdout io.Writer) (err error) {
	csvPath := h.cfg.csvPath
	if h.cfg.rssGB > 0 {
		csvPath = "" // the check alone does not replace the sweep's results
	}
	if h.rec, err = newRecorder(stdout, csvPath); err != nil {
		return err
	}
	defer func() { err = errors.Join(err, h.rec.close()) }()
	if h.tmp, err = os.MkdirTemp(h.cfg.tmpDir, "renkei-bench-"); err != nil {
		return fmt.Errorf("creating a temporary folder: %w", err)
	}
	if h.cfg.keep {
		h.logger.Warn("keeping bundles and databases", "dir", h.tmp)
	} else {
		defer func() { err = errors.Join(err, os.RemoveAll(h.tmp)) }()
	}
	fmt.Fprintf(h.stderr, "# renkei bench: GOOS=%s GOARCH=%s NumCPU=%d GOMAXPROCS=%d %s\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())

	if h.cfg.rssGB > 0 {
		return h.rssCheck(ctx)
	}
	if h.cfg.match {
		return h.matchBench(ctx)
	}
	if h.cfg.taxii.on {
		return h.taxiiBench(ctx)
	}
	if h.cfg.corr.on {
		return h.correlateBench(ctx)
	}
	if h.cfg.misp.on {
		return h.mispBench(ctx)
	}
	if h.cfg.pat.on {
		return h.patternsBench(ctx)
	}
	for _, n := range h.cfg.sizes {
		if err := h.size(ctx, n); err != nil {
			return fmt.Errorf("size %d: %w", n, err)
		}
	}
	if h.cfg.attack != "" {
		if err := h.attack(ctx); err != nil {
			return fmt.Errorf("ATT&CK: %w", err)
		}
	} else if !h.cfg.noAttack {
		h.logger.Warn("ATT&CK Enterprise bundle not found: set -attack or RENKEI_TESTDATA to time its import")
	}
	if err := writePlot(h.cfg.plotPath, h.rec); err != nil {
		return err
	}
	fmt.Fprintf(h.stderr, "# wrote %s and %s\n", h.cfg.csvPath, h.cfg.plotPath)
	return nil
}

// size runs every measurement on a generated bundle of n objects.
func (h *harness) size(ctx context.Context, n int) error {
	bundle := filepath.Join(h.tmp, fmt.Sprintf("bundle-%d.json", n))
	if err := h.generate(bundle, n); err != nil {
		return err
	}
	if !h.cfg.keep {
		defer os.Remove(bundle)
	}
	if err := h.decode(ctx, bundle, n); err != nil {
		return err
	}
	res, err := h.importFile(ctx, bundle, n, false, "import")
	if err != nil {
		return err
	}
	if res.Accepted != n {
		return fmt.Errorf("the import accepted %d of %d generated objects (%d duplicate, %d rejected; first: %s)",
			res.Accepted, n, res.Duplicate, res.Rejected, res.FirstErr)
	}
	return nil
}

func (h *harness) generate(path string, n int) error {
	h.logger.Info("generating", "objects", n, "file", path)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating the bundle: %w", err)
	}
	start := time.Now()
	werr := gen.Write(f, n, h.cfg.seed)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("writing the bundle: %w", err)
	}
	secs := time.Since(start).Seconds()
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("writing the bundle: %w", err)
	}
	return errors.Join(
		h.rec.add("bundle_bytes", n, float64(fi.Size()), "bytes"),
		h.rec.add("generate_mb_per_s", n, mib(fi.Size())/secs, "MiB/s"),
	)
}

// decode times stix.Decode over every object of the bundle on one core (reading the file included).
func (h *harness) decode(ctx context.Context, path string, n int) error {
	h.logger.Info("decoding", "objects", n)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening the bundle: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("opening the bundle: %w", err)
	}
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	runtime.GC()
	count, rejected := 0, 0
	var first error
	start := time.Now()
	err = gen.Each(f, func(raw []byte) error {
		count++
		if count%65536 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if _, err := stix.Decode(raw); err != nil {
			rejected++
			first = cmp.Or(first, err)
		}
		return nil
	})
	secs := time.Since(start).Seconds()
	if err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	if rejected > 0 {
		return fmt.Errorf("stix.Decode rejected %d of %d generated objects; the first: %w", rejected, count, first)
	}
	return errors.Join(
		h.rec.add("decode_objects_per_s", n, float64(count)/secs, "objects/s"),
		h.rec.add("decode_mb_per_s", n, mib(fi.Size())/secs, "MiB/s"),
	)
}

// importFile imports path into a new database in a child process and records the figures under
// the given prefix.
func (h *harness) importFile(ctx context.Context, path string, n int, gz bool, prefix string) (childResult, error) {
	h.logger.Info("importing", "objects", n, "file", path)
	dir, err := os.MkdirTemp(h.tmp, "db-")
	if err != nil {
		return childResult{}, fmt.Errorf("creating a database folder: %w", err)
	}
	if !h.cfg.keep {
		defer os.RemoveAll(dir)
	}
	res, err := importInChild(ctx, path, filepath.Join(dir, "renkei.db"), gz, h.cfg.batch, h.stderr)
	if err != nil {
		return res, err
	}
	if n == 0 {
		n = res.Accepted + res.Duplicate + res.Rejected
	}
	dbBytes, err := dirSize(dir)
	if err != nil {
		return res, err
	}
	return res, errors.Join(
		h.rec.add(prefix+"_objects_per_s", n, float64(n)/res.Seconds, "objects/s"),
		h.rec.add(prefix+"_seconds", n, res.Seconds, "s"),
		h.rec.add(prefix+"_peak_rss_mb", n, float64(res.MaxRSS)/1024, "MiB"),
		h.rec.add(prefix+"_rss_increase_mb", n, float64(res.increaseKiB())/1024, "MiB"),
		h.rec.add(prefix+"_db_bytes_per_object", n, float64(dbBytes)/float64(max(n, 1)), "bytes"),
	)
}

// attack times the import of the ATT&CK Enterprise bundle.
func (h *harness) attack(ctx context.Context) error {
	gz := strings.HasSuffix(h.cfg.attack, ".gz")
	res, err := h.importFile(ctx, h.cfg.attack, 0, gz, "attack_import")
	if err != nil {
		return err
	}
	if res.Rejected > 0 {
		h.logger.Warn("ATT&CK objects rejected", "rejected", res.Rejected, "first", res.FirstErr)
	}
	return h.rec.add("attack_rejected", res.Accepted+res.Duplicate+res.Rejected, float64(res.Rejected), "objects")
}

// rssCheck imports a generated bundle of about cfg.rssGB GiB and checks the rise in peak RSS.
func (h *harness) rssCheck(ctx context.Context) error {
	var cw countWriter
	const sample = 20000
	if err := gen.Write(&cw, sample, h.cfg.seed); err != nil {
		return err
	}
	target := h.cfg.rssGB * (1 << 30)
	n := int(math.Ceil(target / (float64(cw.n) / sample)))
	if n > maxSize {
		return fmt.Errorf("-rss-gb=%g needs %d objects, more than %d", h.cfg.rssGB, n, maxSize)
	}
	fmt.Fprintf(h.stderr, "# memory check: %d objects, about %.2f GiB\n", n, h.cfg.rssGB)
	bundle := filepath.Join(h.tmp, fmt.Sprintf("bundle-%d.json", n))
	if err := h.generate(bundle, n); err != nil {
		return err
	}
	if !h.cfg.keep {
		defer os.Remove(bundle)
	}
	res, err := h.importFile(ctx, bundle, n, false, "rss_check_import")
	if err != nil {
		return err
	}
	inc := float64(res.increaseKiB()) / 1024
	verdict := "PASS"
	if inc > h.cfg.rssLimitMB {
		verdict = "FAIL"
	}
	fi, err := os.Stat(bundle)
	if err != nil {
		return err
	}
	fmt.Fprintf(h.stderr, "# check=rss objects=%d bundle=%.2fGiB rss_before=%.0fMiB peak=%.0fMiB increase=%.0fMiB limit=%.0fMiB %s\n",
		n, float64(fi.Size())/(1<<30), float64(res.RSSBefore)/1024, float64(res.HWMAfter)/1024, inc, h.cfg.rssLimitMB, verdict)
	if res.Accepted != n {
		return fmt.Errorf("the import accepted %d of %d generated objects (first rejection: %s)", res.Accepted, n, res.FirstErr)
	}
	if verdict == "FAIL" {
		return fmt.Errorf("%w: importing %.2f GiB raised peak RSS by %.0f MiB, more than %.0f MiB", errCheckFailed, float64(fi.Size())/(1<<30), inc, h.cfg.rssLimitMB)
	}
	return nil
}

func dirSize(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("measuring the database: %w", err)
	}
	var total int64
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			return 0, fmt.Errorf("measuring the database: %w", err)
		}
		total += fi.Size()
	}
	return total, nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
