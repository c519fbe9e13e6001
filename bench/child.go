package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
)

// childEnv, when set to "import" in the environment, makes the harness binary run one import and
// report on it instead of running the benchmarks. The parent re-executes itself this way so that the
// import's peak memory is measured in a process of its own.
const childEnv = "RENKEI_BENCH_CHILD"

// childResult is what the child prints, as one JSON line, when its import is done.
type childResult struct {
	Accepted  int     `json:"accepted"`
	Duplicate int     `json:"duplicate"`
	Rejected  int     `json:"rejected"`
	FirstErr  string  `json:"first_error,omitempty"`
	Seconds   float64 `json:"seconds"`    // the Import call alone
	RSSBefore int64   `json:"rss_before"` // VmRSS in KiB with the store open, just before Import
	HWMBefore int64   `json:"hwm_before"` // VmHWM in KiB at the same moment
	HWMAfter  int64   `json:"hwm_after"`  // VmHWM in KiB after Import
	// Filled in by the parent:
	MaxRSS int64   `json:"-"` // the child's peak RSS in KiB, from rusage
	Wall   float64 `json:"-"` // the child's whole run, in seconds
}

// increaseKiB is how much the import raised the process's peak RSS above its resident size before.
func (r childResult) increaseKiB() int64 { return max(0, r.HWMAfter-r.RSSBefore) }

// runChild imports one file into a fresh SQLite store and prints a childResult.
func runChild(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench child", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "bundle to import")
	db := fs.String("db", "", "SQLite database to create")
	gz := fs.Bool("gzip", false, "the input is gzip-compressed")
	batch := fs.Int("batch", 0, "objects per transaction (0: ingest's default)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res, err := childImport(ctx, logger, *in, *db, *gz, *batch)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	return 0
}

func childImport(ctx context.Context, logger *slog.Logger, in, db string, gz bool, batch int) (childResult, error) {
	var res childResult
	f, err := os.Open(in)
	if err != nil {
		return res, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 1<<20)
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return res, fmt.Errorf("%s: %w", in, err)
		}
		defer zr.Close()
		r = zr
	}
	st, err := sqlite.Open(ctx, db, sqlite.WithLogger(logger), sqlite.WithLabeler(policy.Labeler{}))
	if err != nil {
		return res, fmt.Errorf("opening the store: %w", err)
	}
	defer st.Close()

	if res.RSSBefore, res.HWMBefore, err = procStatus(); err != nil {
		return res, err
	}
	start := time.Now()
	defer ingest.LimitHeap()() // as `renkei import` does
	rep, err := ingest.New(st, logger).Import(ctx, r, ingest.Options{BatchSize: batch})
	res.Seconds = time.Since(start).Seconds()
	if err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	if _, res.HWMAfter, err = procStatus(); err != nil {
		return res, err
	}
	res.Accepted, res.Duplicate, res.Rejected = rep.Accepted, rep.Duplicate, rep.Rejected
	if len(rep.Errors) > 0 {
		res.FirstErr = rep.Errors[0].Error()
	}
	if err := st.Close(); err != nil {
		return res, fmt.Errorf("closing the store: %w", err)
	}
	return res, nil
}

// procStatus reads the resident set size and its high-water mark, in KiB, from /proc/self/status.
func procStatus() (rss, hwm int64, err error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, fmt.Errorf("reading memory figures (the harness needs Linux): %w", err)
	}
	return parseStatus(b)
}

// parseStatus extracts VmRSS and VmHWM, in KiB, from the text of /proc/<pid>/status.
func parseStatus(b []byte) (rss, hwm int64, err error) {
	found := 0
	for line := range bytes.Lines(b) {
		name, val, ok := strings.Cut(string(line), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, 0, fmt.Errorf("unexpected %s line %q in /proc/self/status", name, strings.TrimSpace(string(line)))
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s in /proc/self/status: %w", name, err)
		}
		if name == "VmRSS" {
			rss = n
		} else {
			hwm = n
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("VmRSS or VmHWM missing from /proc/self/status")
	}
	return rss, hwm, nil
}

// importInChild re-executes the harness binary to import in into a new store at db, and returns
// what the child measured plus its peak RSS as the kernel accounted it.
func importInChild(ctx context.Context, in, db string, gz bool, batch int, stderr io.Writer) (childResult, error) {
	var res childResult
	exe, err := os.Executable()
	if err != nil {
		return res, fmt.Errorf("finding the harness binary: %w", err)
	}
	args := []string{"-in", in, "-db", db, "-batch", strconv.Itoa(batch)}
	if gz {
		args = append(args, "-gzip")
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), childEnv+"=import")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("importing %s in a child process: %w", in, err)
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return res, fmt.Errorf("reading the child's result %q: %w", out.String(), err)
	}
	res.Wall = time.Since(start).Seconds()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.MaxRSS = ru.Maxrss // KiB on Linux
	}
	return res, nil
}
