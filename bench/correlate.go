package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/renkei-cti/renkei/internal/correlate"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/stix/pattern"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
)

// The -correlate mode. For each size (stored observables: rows of the observables index) it builds a
// store of generated indicators and SCOs written straight through the store's Write API in large
// batches (an import through ingest would take an hour at 10M), then measures:
//   - (a) checking a report: a generated bundle carrying -correlate-report distinct observables,
//     a fifth of them values the store holds, read and correlated (exact values, and the stored
//     CIDR blocks containing each address) as the operator and as an analyst of one organisation;
//   - (b) re-correlating everything: one pass over the observables index that yields every value
//     carried by two objects or more, as the operator and as the analyst, written as JSON lines to
//     a discarding writer.
//
// Wall-clock and CPU seconds are both recorded: the machine is shared.
const (
	corrSizes      = "100000,1000000,10000000"
	corrQuickSizes = "10000,100000,1000000"
	corrBatch      = 20000 // versions per Write
	corrOrgs       = 8     // creators; the first half hosted on the node
	corrShared     = 0.3   // chance that a stored value is one stored before
	corrKnown      = 0.2   // share of the report's values that the store holds
	corrCIDR       = 200   // one IPv4 value in corrCIDR is a CIDR block
	corrRuns       = 3     // (a) is measured this many times; the median is recorded
	// The first group of the ids of stored and of report objects.
	corrStorePrefix  = "c0000000"
	corrReportPrefix = "e0000000"
)

// corrConfig is the command line of the -correlate mode.
type corrConfig struct {
	on      bool
	report  int
	dbDir   string
	profile string // CPU profile of (a), as the operator, at the largest size
	check   bool   // measure (a) only
}

func (c *corrConfig) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.on, "correlate", false, "benchmark correlation instead (sizes in stored observables; default "+corrSizes+", -quick "+corrQuickSizes+"); writes correlate.csv and correlate.png")
	fs.IntVar(&c.report, "correlate-report", 100000, "distinct observables in the report checked by -correlate")
	fs.StringVar(&c.profile, "correlate-cpuprofile", "", "write CPU profiles of -correlate at the largest size, as the operator: of the report checks to this file, of the pass over everything to this file + \".all\"")
	fs.BoolVar(&c.check, "correlate-check-only", false, "measure only (a), the report checks, not the pass over everything")
	fs.StringVar(&c.dbDir, "correlate-db", "", "folder where -correlate keeps its stores (corr-<size>.db) and reuses them on the next run; default: a temporary folder")
}

func corrOrg(i int) string { return fmt.Sprintf("identity--c0000000-0000-4000-8000-%012d", i) }

// corrViewer is the analyst the scoped measurements run as: of a hosted organisation that created
// an eighth of the objects.
func corrViewer() policy.Viewer {
	return policy.Viewer{UserID: "bench", Role: store.RoleAnalyst, Org: corrOrg(1), Local: true}
}

// The generated values. Each kind has its own sequence: value(kind, k) is a pure function of k, so the
// report can name stored values by drawing k below what was stored, and new ones above. Addresses are
// in 10.0.0.0/8 and 2001:db8::/32, domains under names reserved for testing, hashes are of nothing.
const (
	vIPv4 = iota
	vIPv6
	vDomain
	vURL
	vSHA256
	vMD5
	vEmail
	vCIDR
	vKinds
)

// corrKindDraw picks the kind of a value: IPv4 addresses most, then domains, URLs and hashes.
var corrKindDraw = [...]int{vIPv4, vIPv4, vIPv4, vIPv4, vIPv4, vIPv4, vIPv4, vIPv6, vDomain, vDomain, vDomain, vDomain,
	vURL, vURL, vURL, vSHA256, vSHA256, vSHA256, vMD5, vEmail}

var corrSuffixes = [...]string{"example", "test", "example.com", "example.net", "example.org"}

// permute24 permutes 0…2^24-1, so consecutive k spread over the address space.
func permute24(k uint64) uint32 { return uint32((k*2654435761 + 12345) & (1<<24 - 1)) }

func corrValue(kind int, k uint64) (obsType, pat, value string) {
	switch kind {
	case vIPv4:
		x := permute24(k)
		v := netip.AddrFrom4([4]byte{10, byte(x >> 16), byte(x >> 8), byte(x)}).String()
		return "ipv4-addr", "ipv4-addr:value", v
	case vCIDR:
		x := permute24(k ^ 0x5a5a5a)
		bits := 22 + int(k%9)
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(x >> 16), byte(x >> 8), byte(x)}), bits).Masked()
		return "ipv4-addr", "ipv4-addr:value", p.String()
	case vIPv6:
		var a [16]byte
		copy(a[:], []byte{0x20, 0x01, 0x0d, 0xb8})
		x := k*0x9e3779b97f4a7c15 + 1
		for i := range 8 {
			a[8+i] = byte(x >> (8 * i))
		}
		return "ipv6-addr", "ipv6-addr:value", netip.AddrFrom16(a).String()
	case vDomain:
		return "domain-name", "domain-name:value", corrDomain(k)
	case vURL:
		return "url", "url:value", "https://" + corrDomain(k/7) + "/p/" + strconv.FormatUint(k, 36) + "/index.php"
	case vSHA256:
		d := sha256.Sum256([]byte("corr-sha256-" + strconv.FormatUint(k, 10)))
		return "file", "file:hashes.'SHA-256'", hex.EncodeToString(d[:])
	case vMD5:
		d := md5.Sum([]byte("corr-md5-" + strconv.FormatUint(k, 10)))
		return "file", "file:hashes.MD5", hex.EncodeToString(d[:])
	case vEmail:
		return "email-addr", "email-addr:value", "u" + strconv.FormatUint(k, 36) + "@" + corrDomain(k/13)
	}
	panic("unknown kind")
}

func corrDomain(k uint64) string {
	return "h" + strconv.FormatUint(k, 36) + "-" + strconv.FormatUint(k*7919%1000, 10) + "." + corrSuffixes[k%uint64(len(corrSuffixes))]
}

// corrGen writes the stored objects and the report.
type corrGen struct {
	rng  *rand.Rand
	used [vKinds]uint64 // values of each kind stored so far
	n    int            // objects generated
}

// pick draws a value of a random kind: a new one, or (with chance shared) one already used.
func (g *corrGen) pick(shared float64) (int, uint64) {
	kind := corrKindDraw[g.rng.IntN(len(corrKindDraw))]
	if kind == vIPv4 && g.rng.IntN(corrCIDR) == 0 {
		kind = vCIDR
	}
	if u := g.used[kind]; u > 0 && g.rng.Float64() < shared {
		return kind, g.rng.Uint64N(u)
	}
	g.used[kind]++
	return kind, g.used[kind] - 1
}

func corrMarking(r *rand.Rand) string {
	switch x := r.IntN(100); {
	case x < 70:
		return stix.TLP2Green
	case x < 90:
		return stix.TLP2Clear
	case x < 98:
		return stix.TLP2Amber
	}
	return stix.TLP2Red
}

// object returns the JSON of one generated object carrying the values vals: an indicator whose
// pattern ORs them, or, for one value, half the time an SCO.
func (g *corrGen) object(prefix string, vals [][2]string, obsTypes []string) []byte {
	g.n++
	marking := corrMarking(g.rng)
	var b []byte
	if len(vals) == 1 && g.rng.IntN(2) == 0 {
		id := fmt.Sprintf("%s--%s-0000-4000-8000-%012x", obsTypes[0], prefix, g.n)
		b = fmt.Appendf(b, `{"type":%q,"spec_version":"2.1","id":%q,`, obsTypes[0], id)
		if obsTypes[0] == "file" {
			alg := "SHA-256"
			if len(vals[0][1]) == 32 {
				alg = "MD5"
			}
			b = fmt.Appendf(b, `"hashes":{%q:%q}`, alg, vals[0][1])
		} else {
			b = fmt.Appendf(b, `"value":%q`, vals[0][1])
		}
		return fmt.Appendf(b, `,"object_marking_refs":[%q]}`, marking)
	}
	terms := make([]string, len(vals))
	for i, v := range vals {
		terms[i] = "[" + v[0] + " = '" + strings.ReplaceAll(v[1], "'", `\'`) + "']"
	}
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(g.n) * time.Second).Format("2006-01-02T15:04:05.000Z")
	id := fmt.Sprintf("indicator--%s-0000-4000-8000-%012x", prefix, g.n)
	return fmt.Appendf(b, `{"type":"indicator","spec_version":"2.1","id":%q,"created_by_ref":%q,"created":%q,"modified":%q,`+
		`"pattern":%q,"pattern_type":"stix","valid_from":%q,"object_marking_refs":[%q]}`,
		id, corrOrg(g.rng.IntN(corrOrgs)), ts, ts, strings.Join(terms, " OR "), ts, marking)
}

// values draws 1 to 3 values (chance shared of each being one used before).
func (g *corrGen) values(shared float64) (vals [][2]string, types []string) {
	for range 1 + g.rng.IntN(3) {
		typ, pat, v := corrValue(g.pick(shared))
		vals = append(vals, [2]string{pat, v})
		types = append(types, typ)
	}
	return vals, types
}

// corrStore opens the store of size observables under dir, generating it when it is not there yet.
// It returns the store and how long the generation took (0 when reused).
func (h *harness) corrStore(ctx context.Context, dir string, size int) (*sqlite.Store, error) {
	path := filepath.Join(dir, fmt.Sprintf("corr-%d.db", size))
	_, statErr := os.Stat(path)
	reuse := statErr == nil
	st, err := sqlite.Open(ctx, path, sqlite.WithLogger(h.logger), sqlite.WithLabeler(policy.Labeler{}))
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	if reuse {
		stats, err := st.Stats(ctx)
		if err != nil {
			return nil, errors.Join(err, st.Close())
		}
		if stats.Observables >= int64(size) {
			fmt.Fprintf(h.stderr, "# correlate: reusing %s (%d observables, %d versions)\n", path, stats.Observables, stats.Versions)
			return st, nil
		}
		return nil, errors.Join(fmt.Errorf("%s holds %d observables, fewer than %d: remove it", path, stats.Observables, size), st.Close())
	}
	if err := h.corrGenerate(ctx, st, size); err != nil {
		return nil, errors.Join(err, st.Close())
	}
	return st, nil
}

// corrGenerate fills a new store with objects carrying size observables in all.
func (h *harness) corrGenerate(ctx context.Context, st *sqlite.Store, size int) error {
	start, cpu0 := time.Now(), cpuSeconds()
	for i := range corrOrgs {
		if err := st.CreateOrganisation(ctx, store.Organisation{ID: corrOrg(i), Name: "org " + strconv.Itoa(i), Remote: i >= corrOrgs/2}); err != nil {
			return err
		}
	}
	var defs []store.NewVersion
	for _, m := range stix.BuiltinMarkings() {
		nv, err := corrVersion(m.JSON)
		if err != nil {
			return err
		}
		defs = append(defs, nv)
	}
	if _, err := st.Write(ctx, store.Batch{Versions: defs}); err != nil {
		return err
	}
	// One goroutine generates and decodes batches while the caller writes the previous one.
	type batch struct {
		vs  []store.NewVersion
		err error
	}
	batches := make(chan batch, 1)
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(batches)
		g := &corrGen{rng: rand.New(rand.NewPCG(uint64(h.cfg.seed), 7))}
		total := 0
		for total < size {
			var b batch
			for len(b.vs) < corrBatch && total < size {
				vals, types := g.values(corrShared)
				nv, err := corrVersion(g.object(corrStorePrefix, vals, types))
				if err != nil {
					b.err = err
					break
				}
				total += len(nv.Object.Observables)
				b.vs = append(b.vs, nv)
			}
			select {
			case batches <- b:
			case <-gctx.Done():
				return
			}
			if b.err != nil {
				return
			}
		}
	}()
	objects := 0
	for b := range batches {
		if b.err != nil {
			return b.err
		}
		if _, err := st.Write(ctx, store.Batch{Versions: b.vs}); err != nil {
			return fmt.Errorf("writing generated objects: %w", err)
		}
		objects += len(b.vs)
		if objects%(50*corrBatch) < corrBatch {
			h.logger.Info("correlate: generating", "objects", objects, "elapsed", time.Since(start).Round(time.Second).String())
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	stats, err := st.Stats(ctx)
	if err != nil {
		return err
	}
	secs, cpu := time.Since(start).Seconds(), cpuSeconds()-cpu0
	fmt.Fprintf(h.stderr, "# correlate: generated %d objects, %d observables in %.0f s (%.0f CPU-s)\n", objects, stats.Observables, secs, cpu)
	return errors.Join(
		h.rec.add("corr_setup_seconds", size, secs, "s"),
		h.rec.add("corr_setup_cpu_seconds", size, cpu, "cpu-s"),
		h.rec.add("corr_setup_objects", size, float64(objects), "objects"),
		h.rec.add("corr_db_bytes", size, float64(stats.Bytes), "bytes"),
	)
}

// corrVersion decodes a generated object as ingest does: its pattern's values are observables too.
func corrVersion(raw []byte) (store.NewVersion, error) {
	obj, err := stix.Decode(raw)
	if err != nil {
		return store.NewVersion{}, fmt.Errorf("generated object %s: %w", raw, err)
	}
	pattern.AddObservables(obj)
	d, err := stix.Digest(raw)
	if err != nil {
		return store.NewVersion{}, err
	}
	return store.NewVersion{Object: obj, Digest: d}, nil
}

// corrReport writes a bundle whose objects carry n distinct observables, a share corrKnown of them
// values of the store (drawn from what the store's generator used: the same seed and sequence).
func corrReport(seed int64, storeUsed [vKinds]uint64, n int) []byte {
	g := &corrGen{rng: rand.New(rand.NewPCG(uint64(seed), 11))}
	seen := map[string]bool{}
	var b []byte
	b = append(b, `{"type":"bundle","id":"bundle--00000000-0000-4000-8000-00000000c0e1","objects":[`...)
	first := true
	for len(seen) < n {
		var vals [][2]string
		var types []string
		for range 1 + g.rng.IntN(3) {
			kind := corrKindDraw[g.rng.IntN(len(corrKindDraw))]
			var k uint64
			if u := storeUsed[kind]; u > 0 && g.rng.Float64() < corrKnown {
				k = g.rng.Uint64N(u)
			} else {
				k = storeUsed[kind] + g.rng.Uint64N(1<<22)
				if kind == vIPv4 {
					k = storeUsed[kind] + g.rng.Uint64N(max(1, 1<<24-storeUsed[kind]))
				}
			}
			typ, pat, v := corrValue(kind, k)
			if seen[pat+v] || len(seen) >= n {
				continue
			}
			seen[pat+v] = true
			vals = append(vals, [2]string{pat, v})
			types = append(types, typ)
		}
		if len(vals) == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, g.object(corrReportPrefix, vals, types)...)
	}
	return append(b, "]}"...)
}

// corrUsed replays the store generator's draws to learn how many values of each kind it used.
func corrUsed(seed int64, size int) [vKinds]uint64 {
	g := &corrGen{rng: rand.New(rand.NewPCG(uint64(seed), 7))}
	total := 0
	for total < size {
		vals, types := g.values(corrShared)
		// The observables the object carries: its distinct values (object() draws too).
		g.object(corrStorePrefix, vals, types)
		distinct := map[[2]string]bool{}
		for _, v := range vals {
			distinct[v] = true
		}
		total += len(distinct)
	}
	return g.used
}

func (h *harness) correlateBench(ctx context.Context) error {
	dir := h.cfg.corr.dbDir
	if dir == "" {
		dir = filepath.Join(h.tmp, "correlate")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, n := range h.cfg.sizes {
		if err := h.correlateSize(ctx, dir, n); err != nil {
			return fmt.Errorf("%d observables: %w", n, err)
		}
	}
	if err := writeCorrelatePlot(h.cfg.plotPath, h.rec); err != nil {
		return err
	}
	fmt.Fprintf(h.stderr, "# wrote %s and %s\n", h.cfg.csvPath, h.cfg.plotPath)
	return nil
}

func (h *harness) correlateSize(ctx context.Context, dir string, n int) (err error) {
	st, err := h.corrStore(ctx, dir, n)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	report := corrReport(h.cfg.seed, corrUsed(h.cfg.seed, n), h.cfg.corr.report)
	v := corrViewer()
	scoped := correlate.Options{Scope: policy.StoreScope(v), Allow: func(ver *store.Version) bool {
		return policy.CanVersion(v, policy.ActionRead, ver).Allow
	}}
	for _, c := range []struct {
		prefix string
		opt    correlate.Options
	}{{"corr_check", correlate.Options{}}, {"corr_check_scoped", scoped}} {
		profile := ""
		if c.prefix == "corr_check" && n == slices.Max(h.cfg.sizes) {
			profile = h.cfg.corr.profile
		}
		stop, err := startProfile(profile) // bench/taxii.go
		if err != nil {
			return err
		}
		if err := errors.Join(h.corrCheck(ctx, st, n, report, c.prefix, c.opt), stop()); err != nil {
			return err
		}
	}
	if h.cfg.corr.check {
		return nil
	}
	for _, c := range []struct {
		prefix string
		opt    correlate.Options
	}{{"corr_all", correlate.Options{}}, {"corr_all_scoped", scoped}} {
		profile := ""
		if c.prefix == "corr_all" && n == slices.Max(h.cfg.sizes) && h.cfg.corr.profile != "" {
			profile = h.cfg.corr.profile + ".all"
		}
		stop, err := startProfile(profile)
		if err != nil {
			return err
		}
		if err := errors.Join(h.corrAll(ctx, st, n, c.prefix, c.opt), stop()); err != nil {
			return err
		}
	}
	return nil
}

// corrCheck measures (a): reading the report and checking it, corrRuns times; it records the
// median run.
func (h *harness) corrCheck(ctx context.Context, st store.Objects, n int, report []byte, prefix string, o correlate.Options) error {
	o.PerValue = 10
	type run struct{ read, total, cpu float64 }
	var runs []run
	var res *correlate.Result
	for range corrRuns {
		runtime.GC()
		start, cpu0 := time.Now(), cpuSeconds()
		in, err := correlate.ReadInput(bytes.NewReader(report))
		if err != nil {
			return err
		}
		read := time.Since(start).Seconds()
		if res, err = correlate.Check(ctx, st, in, o); err != nil {
			return err
		}
		runs = append(runs, run{read, time.Since(start).Seconds(), cpuSeconds() - cpu0})
	}
	slices.SortFunc(runs, func(a, b run) int { return cmp.Compare(a.total, b.total) })
	med := runs[len(runs)/2]
	blocks := 0
	for _, m := range res.Matches {
		if m.Via != "" {
			blocks++
		}
	}
	fmt.Fprintf(h.stderr, "# %s: %d observables stored, report of %d values in %d objects: %d matched, %d matches (%d containing blocks); runs %v\n",
		prefix, n, res.Values, res.Objects, res.Matched, len(res.Matches), blocks, runs)
	return errors.Join(
		h.rec.add(prefix+"_seconds", n, med.total, "s"),
		h.rec.add(prefix+"_cpu_seconds", n, med.cpu, "cpu-s"),
		h.rec.add(prefix+"_read_seconds", n, med.read, "s"),
		h.rec.add(prefix+"_best_seconds", n, runs[0].total, "s"),
		h.rec.add(prefix+"_values", n, float64(res.Values), "values"),
		h.rec.add(prefix+"_matched", n, float64(res.Matched), "values"),
		h.rec.add(prefix+"_block_matches", n, float64(blocks), "blocks"),
	)
}

// corrAll measures (b): one pass of correlate.All, every group written as a JSON line to a
// discarding writer.
func (h *harness) corrAll(ctx context.Context, st store.Objects, n int, prefix string, o correlate.Options) error {
	o.PerValue = 10
	runtime.GC()
	// As `renkei correlate --all` writes them: JSON lines through a buffer.
	w := bufio.NewWriterSize(io.Discard, 64<<10)
	var line []byte
	start, cpu0 := time.Now(), cpuSeconds()
	stats, err := correlate.All(ctx, st, o, func(v correlate.Value) error {
		line = v.AppendJSON(line[:0])
		_, err := w.Write(line)
		return err
	})
	secs, cpu := time.Since(start).Seconds(), cpuSeconds()-cpu0
	if err != nil {
		return err
	}
	_, hwm, err := procStatus()
	if err != nil {
		return err
	}
	fmt.Fprintf(h.stderr, "# %s: %d observables stored: %d shared values, %d carriers, %.1f s (%.1f CPU-s)\n", prefix, n, stats.Groups, stats.Carriers, secs, cpu)
	return errors.Join(
		h.rec.add(prefix+"_seconds", n, secs, "s"),
		h.rec.add(prefix+"_cpu_seconds", n, cpu, "cpu-s"),
		h.rec.add(prefix+"_groups", n, float64(stats.Groups), "values"),
		h.rec.add(prefix+"_carriers", n, float64(stats.Carriers), "objects"),
		h.rec.add(prefix+"_observables_per_s", n, float64(n)/secs, "observables/s"),
		h.rec.add(prefix+"_peak_rss_mb", n, float64(hwm)/1024, "MiB"),
	)
}
