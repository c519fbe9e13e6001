package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The -misp mode times `renkei import --format misp FILE`, end to end and durable, on generated
// MISP events of the sizes of -misp-sizes (in attributes). Each renkei binary of -misp-bin (default:
// the module's cmd/renkei, built into the temporary folder) imports each event -misp-runs times
// into a new data directory, the binaries taking turns so that they share the machine's load. It
// records the median wall time, the CPU time of the process (user + sys) and its peak RSS, and
// prints a Markdown table of them on stderr.
//
//	go run ./bench -misp                                        # 20k, 100k, 200k attributes
//	go run ./bench -misp -misp-bin before=/tmp/old/renkei,after=./renkei -misp-runs 5
type mispConfig struct {
	on    bool
	sizes string
	bins  string
	runs  int
}

func (c *mispConfig) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.on, "misp", false, "time `renkei import --format misp` of generated MISP events instead (bench/misp.go); writes misp.csv")
	fs.StringVar(&c.sizes, "misp-sizes", "20k,100k,200k", "with -misp: event sizes, in attributes")
	fs.StringVar(&c.bins, "misp-bin", "", "with -misp: the renkei binaries to time, `name=path,...` (default: build ./cmd/renkei as \"renkei\")")
	fs.IntVar(&c.runs, "misp-runs", 3, "with -misp: imports per binary and size (the median is reported)")
}

type mispBin struct{ name, path string }

// mispRun is one timed import.
type mispRun struct {
	wall, cpu time.Duration
	rssMiB    float64
}

func (h *harness) mispBench(ctx context.Context) error {
	c := h.cfg.misp
	sizes, err := parseSizes(c.sizes)
	if err != nil {
		return fmt.Errorf("-misp-sizes: %w", err)
	}
	if c.runs < 1 {
		return errors.New("-misp-runs must be at least 1")
	}
	bins, err := h.mispBins(ctx)
	if err != nil {
		return err
	}
	var table strings.Builder
	fmt.Fprintf(&table, "| attributes | event MiB | binary | STIX objects | wall (median of %d) | CPU user+sys | peak RSS |\n|---:|---:|---|---:|---:|---:|---:|\n", c.runs)
	for _, n := range sizes {
		path := filepath.Join(h.tmp, fmt.Sprintf("misp-%d.json", n))
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("creating the event: %w", err)
		}
		bw := bufio.NewWriterSize(f, 1<<20)
		werr := writeMISPEvent(bw, n)
		if err := errors.Join(werr, bw.Flush(), f.Close()); err != nil {
			return fmt.Errorf("writing the event: %w", err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("writing the event: %w", err)
		}
		runs := make([][]mispRun, len(bins))
		accepted := make([]int, len(bins))
		for range c.runs {
			for i, b := range bins {
				r, acc, err := h.mispImport(ctx, b, path)
				if err != nil {
					return fmt.Errorf("%d attributes, %s: %w", n, b.name, err)
				}
				runs[i] = append(runs[i], r)
				accepted[i] = acc
			}
		}
		for i, b := range bins {
			med := medianRun(runs[i])
			fmt.Fprintf(&table, "| %d | %.1f | %s | %d | %.2f s | %.2f s | %.0f MiB |\n", n, mib(fi.Size()), b.name, accepted[i],
				med.wall.Seconds(), med.cpu.Seconds(), med.rssMiB)
			if err := errors.Join(
				h.rec.add("misp_import_s_"+b.name, n, med.wall.Seconds(), "s"),
				h.rec.add("misp_import_cpu_s_"+b.name, n, med.cpu.Seconds(), "s"),
				h.rec.add("misp_import_rss_mib_"+b.name, n, med.rssMiB, "MiB"),
			); err != nil {
				return err
			}
		}
		if !h.cfg.keep {
			if err := os.Remove(path); err != nil {
				return err
			}
		}
	}
	fmt.Fprint(h.stderr, "\n"+table.String())
	return nil
}

// mispBins reads -misp-bin, or builds the module's renkei.
func (h *harness) mispBins(ctx context.Context) ([]mispBin, error) {
	if h.cfg.misp.bins == "" {
		out := filepath.Join(h.tmp, "renkei")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/renkei")
		cmd.Dir, cmd.Stdout, cmd.Stderr = moduleRoot(), h.stderr, h.stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("building renkei: %w", err)
		}
		return []mispBin{{"renkei", out}}, nil
	}
	var bins []mispBin
	for part := range strings.SplitSeq(h.cfg.misp.bins, ",") {
		name, path, ok := strings.Cut(part, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("-misp-bin: %q is not name=path", part)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("-misp-bin: %w", err)
		}
		bins = append(bins, mispBin{name, abs})
	}
	return bins, nil
}

var acceptedLine = regexp.MustCompile(`(?m)^accepted (\d+), duplicate (\d+), rejected (\d+)$`)

// mispImport initialises a new node and times one import of the event into it.
func (h *harness) mispImport(ctx context.Context, b mispBin, event string) (mispRun, int, error) {
	dir, err := os.MkdirTemp(h.tmp, "misp-node-")
	if err != nil {
		return mispRun{}, 0, err
	}
	defer os.RemoveAll(dir)
	var out bytes.Buffer
	init := exec.CommandContext(ctx, b.path, "init", "--data", dir, "--org", "Bench CERT")
	init.Stdout, init.Stderr = &out, &out
	if err := init.Run(); err != nil {
		return mispRun{}, 0, fmt.Errorf("renkei init: %w: %s", err, out.Bytes())
	}
	out.Reset()
	var errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, b.path, "import", "--data", dir, "--format", "misp", event)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return mispRun{}, 0, fmt.Errorf("renkei import: %w: %s", err, tail(errOut.Bytes()))
	}
	m := acceptedLine.FindSubmatch(out.Bytes())
	if m == nil || string(m[3]) != "0" {
		return mispRun{}, 0, fmt.Errorf("renkei import: unexpected output %q", out.Bytes())
	}
	acc, err := strconv.Atoi(string(m[1]))
	if err != nil {
		return mispRun{}, 0, err
	}
	ps := cmd.ProcessState
	r := mispRun{wall: wall, cpu: ps.UserTime() + ps.SystemTime()}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		r.rssMiB = float64(ru.Maxrss) / 1024 // KiB on Linux
	}
	return r, acc, nil
}

func tail(b []byte) []byte {
	if len(b) > 2000 {
		return b[len(b)-2000:]
	}
	return b
}

// medianRun takes the median of each measure on its own.
func medianRun(rs []mispRun) mispRun {
	med := func(f func(mispRun) float64) float64 {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = f(r)
		}
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	return mispRun{
		wall:   time.Duration(med(func(r mispRun) float64 { return float64(r.wall) })),
		cpu:    time.Duration(med(func(r mispRun) float64 { return float64(r.cpu) })),
		rssMiB: med(func(r mispRun) float64 { return r.rssMiB }),
	}
}

// writeMISPEvent writes a MISP event of n attributes shaped like a large feed dump: nine in ten are
// event attributes (IPv4 and IPv6 addresses, domains, host names, URLs, hashes, e-mail senders,
// filename|hash pairs), half of them with to_ids; one in ten is in a "file" object of three
// attributes (filename, md5, sha256: the hashes with to_ids). The event is TLP:GREEN, distributed to
// the community, and every hundredth attribute has a tag of its own.
func writeMISPEvent(w io.Writer, n int) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `{"Event":{"uuid":"5e1f0000-0000-4000-8000-%012d","info":"bench: %d attributes","date":"2024-01-02",`+
		`"timestamp":"1704200000","published":true,"publish_timestamp":"1704200100","distribution":"1","threat_level_id":"2","analysis":"2",`+
		`"Orgc":{"uuid":"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee","name":"Bench CERT"},`+
		`"Tag":[{"name":"tlp:green"},{"name":"osint:source-type=\"block-or-filter-list\""}],"Attribute":[`, n, n)
	inObjects := n / 10 / 3 * 3
	plain := n - inObjects
	for i := range plain {
		if i > 0 {
			bw.WriteByte(',')
		}
		var typ, cat, val string
		switch i % 20 {
		case 0, 1, 2, 3, 4, 5:
			typ, cat, val = "ip-dst", "Network activity", fmt.Sprintf("%d.%d.%d.%d", 11+i>>24&127, i>>16&255, i>>8&255, i&255)
		case 6:
			typ, cat, val = "ip-src", "Network activity", fmt.Sprintf("2001:db8:%x:%x::1", i>>16, i&0xffff)
		case 7, 8, 9, 10:
			typ, cat, val = "domain", "Network activity", fmt.Sprintf("c2-%d.example-%d.com", i, i%97)
		case 11:
			typ, cat, val = "hostname", "Network activity", fmt.Sprintf("mail%d.bad-%d.net", i, i%89)
		case 12, 13:
			typ, cat, val = "url", "Network activity", fmt.Sprintf("https://dl-%d.example.org/p/%d.php?id=%d", i%1013, i, i*7)
		case 14, 15:
			typ, cat, val = "sha256", "Payload delivery", fmt.Sprintf("%064x", uint64(i)*0x9e3779b97f4a7c15)
		case 16:
			typ, cat, val = "md5", "Payload delivery", fmt.Sprintf("%032x", uint64(i)*0x9e3779b97f4a7c15)
		case 17:
			typ, cat, val = "email-src", "Payload delivery", fmt.Sprintf("invoice%d@phish-%d.example", i, i%53)
		case 18:
			typ, cat, val = "filename|sha1", "Payload delivery", fmt.Sprintf("setup%d.exe|%040x", i, uint64(i)*0x9e3779b97f4a7c15)
		default:
			typ, cat, val = "domain", "Network activity", fmt.Sprintf("cdn%d.example-%d.net", i, i%101)
		}
		tag := ""
		if i%100 == 99 {
			tag = `,"Tag":[{"name":"kill-chain:Command and Control"}]`
		}
		fmt.Fprintf(bw, `{"uuid":"a7700000-0000-4000-8000-%012d","type":"%s","category":"%s","value":"%s","to_ids":%t,"timestamp":"1704200000","distribution":"5","comment":""%s}`,
			i, typ, cat, val, i%2 == 0, tag)
	}
	bw.WriteString(`],"Object":[`)
	for j := range inObjects / 3 {
		if j > 0 {
			bw.WriteByte(',')
		}
		h := uint64(j+plain) * 0x9e3779b97f4a7c15
		fmt.Fprintf(bw, `{"uuid":"0b1e0000-0000-4000-8000-%012d","name":"file","meta-category":"file","timestamp":"1704200000","distribution":"5","Attribute":[`+
			`{"uuid":"0b1a0000-0000-4000-8000-%012d","type":"filename","category":"Payload delivery","object_relation":"filename","value":"dropper%d.dll","to_ids":false,"timestamp":"1704200000"},`+
			`{"uuid":"0b1b0000-0000-4000-8000-%012d","type":"md5","category":"Payload delivery","object_relation":"md5","value":"%032x","to_ids":true,"timestamp":"1704200000"},`+
			`{"uuid":"0b1c0000-0000-4000-8000-%012d","type":"sha256","category":"Payload delivery","object_relation":"sha256","value":"%064x","to_ids":true,"timestamp":"1704200000"}]}`,
			j, j, j, j, h, j, h)
	}
	bw.WriteString(`]}}`)
	return bw.Flush()
}
