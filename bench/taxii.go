package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/renkei-cti/renkei/bench/gen"
	rconfig "github.com/renkei-cti/renkei/internal/config"
	"github.com/renkei-cti/renkei/internal/ingest"
	"github.com/renkei-cti/renkei/internal/policy"
	"github.com/renkei-cti/renkei/internal/server"
	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
	"github.com/renkei-cti/renkei/internal/store/sqlite"
	"github.com/renkei-cti/renkei/internal/taxii"
)

// The -taxii mode: a node with one collection grown to each size in turn (generated objects imported
// straight through ingest, marked TLP:CLEAR so the benchmark's user may read every one), served
// in-process over loopback by server.New, and driven by a load generator of our own:
//   - a full export through paging, once with limit=100 (which collects every page's next value and
//     X-TAXII-Date-Added-Last) and once with the server's largest page;
//   - GET objects, 100 per page, at random pages, with the collected next values and, separately,
//     with the collected added_after values, from -taxii-conns keep-alive connections: pages/s and
//     latency percentiles; then the next pages from one connection, for the latency of a request
//     that does not queue behind others (with every connection busy, latency is connections divided
//     by throughput);
//   - POST of 10,000-object envelopes into a second collection, from one and from four connections:
//     objects acknowledged (202, every object a success) per second.
const (
	taxiiSizes      = "10000,100000,1000000"
	taxiiQuickSizes = "1000,10000,100000"
	taxiiPageLimit  = 100
	taxiiPostBatch  = 4 // envelopes per POST measurement
	// The benchmark's organisation, user and collections.
	taxiiOrg        = "identity--b0000000-0000-4000-8000-00000000be0c"
	taxiiUser       = "bench"
	taxiiCollection = "b0000000-0000-4000-8000-000000000001"
	taxiiInbox      = "b0000000-0000-4000-8000-000000000002"
)

// taxiiConfig is the command line of the -taxii mode.
type taxiiConfig struct {
	on         bool
	duration   time.Duration // of each GET load measurement
	conns      int
	postSize   int    // objects per POSTed envelope
	cpuProfile string // CPU profile of the GET (next) load at the largest size
	cacheMiB   int64  // the store's read cache (config read_cache_mib)
	pacedShare float64
	storeDir   string // where the node's store is kept between runs ("": a temporary folder)
	getOnly    bool   // only the export that collects the pages and the two GET loads
}

func (c *taxiiConfig) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.on, "taxii", false, "benchmark the TAXII server instead (sizes in collection objects; default "+taxiiSizes+", -quick "+taxiiQuickSizes+"); writes taxii.csv and taxii.png")
	fs.DurationVar(&c.duration, "taxii-duration", 5*time.Second, "length of each GET load measurement of -taxii")
	fs.IntVar(&c.conns, "taxii-conns", 64, "keep-alive connections of the -taxii GET load")
	fs.IntVar(&c.postSize, "taxii-post-objects", 10000, "objects per envelope of the -taxii POST measurements")
	fs.Float64Var(&c.pacedShare, "taxii-paced", 0.5, "also load GET at this share of the rate the 64-connection load reached, paced (open loop), for latency; 0: not")
	fs.Int64Var(&c.cacheMiB, "taxii-read-cache-mib", rconfig.Default().ReadCacheMiB, "the node's read cache in MiB, as read_cache_mib in its configuration (0: off)")
	fs.StringVar(&c.storeDir, "taxii-store", "", "keep the node's store in this folder and reuse it on the next run (the collection only grows; building 1M objects takes minutes)")
	fs.BoolVar(&c.getOnly, "taxii-get-only", false, "measure only the GET loads of -taxii (the export at limit=100 still runs: it collects the pages); no POST, so a kept store is not changed")
	fs.StringVar(&c.cpuProfile, "taxii-cpuprofile", "", "write a CPU profile of the -taxii GET load (next values) at the largest size to this file, and of the POST load from 4 connections to this file + .post")
}

// taxiiNode is the node under test and a client for it.
type taxiiNode struct {
	st      *sqlite.Store
	base    string // http://127.0.0.1:port
	auth    string // the Authorization header
	objects string // path of the collection's objects endpoint
	inbox   string // path of the inbox's objects endpoint
	dir     string // the store's folder
	gen     *gen.Generator
	post    *gen.Generator
	size    int // objects in the collection
	stop    func() error
}

func (h *harness) taxiiBench(ctx context.Context) (err error) {
	if h.cfg.taxii.conns < 1 || h.cfg.taxii.duration <= 0 || h.cfg.taxii.postSize < 1 {
		return errors.New("-taxii-conns, -taxii-duration and -taxii-post-objects must be positive")
	}
	sizes := slices.Clone(h.cfg.sizes)
	slices.Sort(sizes)
	n, err := h.taxiiNode(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, n.stop()) }()
	for i, size := range slices.Compact(sizes) {
		profile := ""
		if i == len(slices.Compact(sizes))-1 {
			profile = h.cfg.taxii.cpuProfile
		}
		if err := h.taxiiSize(ctx, n, size, profile); err != nil {
			return fmt.Errorf("%d objects: %w", size, err)
		}
	}
	if h.cfg.taxii.getOnly {
		fmt.Fprintf(h.stderr, "# wrote %s (no plot: -taxii-get-only)\n", h.cfg.csvPath)
		return nil
	}
	if err := writeTAXIIPlot(h.cfg.plotPath, h.rec); err != nil {
		return err
	}
	fmt.Fprintf(h.stderr, "# wrote %s and %s\n", h.cfg.csvPath, h.cfg.plotPath)
	return nil
}

// taxiiNode creates the store, its organisation, user, token and collections, and serves it.
func (h *harness) taxiiNode(ctx context.Context) (*taxiiNode, error) {
	dir := filepath.Join(h.tmp, "taxii")
	if h.cfg.taxii.storeDir != "" {
		dir = h.cfg.taxii.storeDir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	kept, err := keptSize(dir)
	if err != nil {
		return nil, err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "renkei.db"), sqlite.WithLogger(h.logger), sqlite.WithLabeler(policy.Labeler{}),
		sqlite.WithReadCache(h.cfg.taxii.cacheMiB<<20))
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	fail := func(err error) (*taxiiNode, error) { return nil, errors.Join(err, st.Close()) }
	secret, hash, err := server.NewToken()
	if err != nil {
		return fail(err)
	}
	if kept >= 0 {
		// A kept store: the node, its accounts and collections are there; a new token for this run.
		h.logger.Info("reusing the kept store", "dir", dir, "objects", kept)
		if err := st.CreateToken(ctx, store.Token{ID: "tok-bench-" + string(secret[len(secret)-12:]), UserID: "u-bench", Hash: hash}); err != nil {
			return fail(err)
		}
		return h.serveTAXII(ctx, st, secret, dir, kept)
	}
	if err := st.InitNode(ctx, store.NodeInfo{ID: "bench-node", OwnerOrg: taxiiOrg}); err != nil {
		return fail(err)
	}
	if err := st.CreateOrganisation(ctx, store.Organisation{ID: taxiiOrg, Name: "bench"}); err != nil {
		return fail(err)
	}
	if err := st.CreateUser(ctx, store.User{ID: "u-bench", Name: taxiiUser, OrgID: taxiiOrg, Role: store.RoleAnalyst}); err != nil {
		return fail(err)
	}
	if err := st.CreateToken(ctx, store.Token{ID: "tok-bench", UserID: "u-bench", Hash: hash}); err != nil {
		return fail(err)
	}
	for _, c := range []store.Collection{{ID: taxiiCollection, Alias: "bench", Title: "benchmark collection"},
		{ID: taxiiInbox, Alias: "inbox", Title: "benchmark inbox"}} {
		if err := st.CreateCollection(ctx, c); err != nil {
			return fail(err)
		}
		if err := st.SetGrant(ctx, store.Grant{Collection: c.ID, Kind: store.GrantOrg, Subject: taxiiOrg, Read: true, Write: true}); err != nil {
			return fail(err)
		}
	}
	// The marking definitions the objects refer to.
	var defs []string
	for _, m := range stix.BuiltinMarkings() {
		defs = append(defs, string(m.JSON))
	}
	for _, d := range policy.Definitions() {
		defs = append(defs, string(d.JSON))
	}
	if _, err := ingest.New(st, h.logger).Import(ctx, strings.NewReader("["+strings.Join(defs, ",")+"]"), ingest.Options{}); err != nil {
		return fail(err)
	}
	return h.serveTAXII(ctx, st, secret, dir, 0)
}

// keptSize returns the number of collection objects a kept store in dir holds, or -1 when there is
// no store there yet.
func keptSize(dir string) (int, error) {
	if _, err := os.Stat(filepath.Join(dir, "renkei.db")); errors.Is(err, os.ErrNotExist) {
		return -1, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "size"))
	if err != nil {
		return 0, fmt.Errorf("a store is in %s but not its size file (remove the folder): %w", dir, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("the size file in %s: %w", dir, err)
	}
	return n, nil
}

// serveTAXII serves the store over loopback; the collection holds size objects, generated from
// the harness's seed.
func (h *harness) serveTAXII(ctx context.Context, st *sqlite.Store, secret server.Secret, dir string, size int) (*taxiiNode, error) {
	fail := func(err error) (*taxiiNode, error) { return nil, errors.Join(err, st.Close()) }
	g := gen.New(h.cfg.seed)
	var raw []byte
	for range size { // the generator goes on after the objects the collection holds
		raw = g.Append(raw[:0])
	}
	cfg := rconfig.Default()
	srv, err := server.New(server.Options{Store: st, Logger: h.logger, Limits: cfg.Limits, TAXII: cfg.TAXII, Version: "bench"})
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln, nil) }()
	root := taxii.Prefix + cfg.TAXII.APIRoots[0].Name + "/collections/"
	return &taxiiNode{
		st:      st,
		base:    "http://" + ln.Addr().String(),
		auth:    "Bearer " + string(secret),
		objects: root + taxiiCollection + "/objects/",
		inbox:   root + taxiiInbox + "/objects/",
		dir:     dir,
		size:    size,
		gen:     g,
		post:    gen.New(h.cfg.seed + 1),
		stop: func() error {
			cancel()
			return errors.Join(<-done, st.Close())
		},
	}, nil
}

// taxiiSize grows the collection to size objects and measures.
func (h *harness) taxiiSize(ctx context.Context, n *taxiiNode, size int, profile string) error {
	if err := h.taxiiGrow(ctx, n, size); err != nil {
		return err
	}
	client := newLoadClient(max(h.cfg.taxii.conns, 4))
	defer client.CloseIdleConnections()

	// Exports: with the default page (collecting the pages to load later), then the largest page.
	nextURLs, afterURLs, err := h.taxiiExport(ctx, n, client, size, taxiiPageLimit, "taxii_export_limit100_seconds")
	if err != nil {
		return err
	}
	if !h.cfg.taxii.getOnly {
		maxPage := rconfig.Default().TAXII.MaxPageSize
		if _, _, err := h.taxiiExport(ctx, n, client, size, maxPage, "taxii_export_seconds"); err != nil {
			return err
		}
	}

	// GET load at random pages.
	for _, m := range []struct {
		name string
		urls []string
		prof string
	}{{"next", nextURLs, profile}, {"added_after", afterURLs, ""}} {
		h.logger.Info("GET load", "objects", size, "by", m.name, "pages", len(m.urls), "conns", h.cfg.taxii.conns)
		res, err := getLoad(ctx, client, n, m.urls, h.cfg.taxii.conns, h.cfg.taxii.duration, 0, m.prof)
		if err != nil {
			return fmt.Errorf("GET load by %s: %w", m.name, err)
		}
		p := "taxii_get_" + m.name
		if err := errors.Join(
			h.rec.add(p+"_pages_per_s", size, res.rate(), "pages/s"),
			h.rec.add(p+"_p50_ms", size, res.pct(0.50), "ms"),
			h.rec.add(p+"_p99_ms", size, res.pct(0.99), "ms"),
			h.rec.add(p+"_max_ms", size, res.pct(1), "ms"),
			h.rec.add(p+"_mb_per_s", size, float64(res.bytes)/1e6/res.secs, "MB/s"),
			h.rec.add(p+"_cpu_us_per_page", size, res.cpu.Seconds()*1e6/float64(len(res.lat)), "CPU-µs"),
		); err != nil {
			return err
		}
		if m.prof != "" {
			fmt.Fprintf(h.stderr, "# wrote the CPU profile of the GET load (%d objects) to %s\n", size, m.prof)
		}
	}

	// The same pages at a fixed rate from all the connections (an open loop: each request is due at
	// its time whether or not the previous one has returned, and its latency counts from then), at
	// a share of the rate the closed loop above reached. With every connection busy, latency is
	// connections / throughput whatever the server does; paced, it shows how long a request waits.
	if h.cfg.taxii.getOnly {
		return nil
	}
	if share := h.cfg.taxii.pacedShare; share > 0 {
		rate := share * h.rec.last("taxii_get_next_pages_per_s", size)
		res, err := getLoad(ctx, client, n, nextURLs, h.cfg.taxii.conns, h.cfg.taxii.duration, rate, "")
		if err != nil {
			return fmt.Errorf("paced GET load: %w", err)
		}
		if err := errors.Join(
			h.rec.add("taxii_get_paced_target_pages_per_s", size, rate, "pages/s"),
			h.rec.add("taxii_get_paced_pages_per_s", size, res.rate(), "pages/s"),
			h.rec.add("taxii_get_paced_p50_ms", size, res.pct(0.50), "ms"),
			h.rec.add("taxii_get_paced_p99_ms", size, res.pct(0.99), "ms"),
			h.rec.add("taxii_get_paced_cpu_us_per_page", size, res.cpu.Seconds()*1e6/float64(len(res.lat)), "CPU-µs"),
		); err != nil {
			return err
		}
	}

	// The same pages from one connection: the latency of a request that does not queue.
	res, err := getLoad(ctx, client, n, nextURLs, 1, h.cfg.taxii.duration/2, 0, "")
	if err != nil {
		return fmt.Errorf("GET from one connection: %w", err)
	}
	if err := errors.Join(
		h.rec.add("taxii_get_next_1conn_pages_per_s", size, res.rate(), "pages/s"),
		h.rec.add("taxii_get_next_1conn_p50_ms", size, res.pct(0.50), "ms"),
		h.rec.add("taxii_get_next_1conn_p99_ms", size, res.pct(0.99), "ms"),
	); err != nil {
		return err
	}

	// POST of 10k-object envelopes, from one and from four connections.
	for _, conns := range []int{1, 4} {
		bodies := n.postBodies(taxiiPostBatch*conns, h.cfg.taxii.postSize)
		postProfile := ""
		if profile != "" && conns > 1 {
			postProfile = profile + ".post"
		}
		stopProfile, err := startProfile(postProfile)
		if err != nil {
			return err
		}
		cpu0 := processCPU()
		secs, acked, err := postLoad(ctx, client, n, bodies, h.cfg.taxii.postSize, conns)
		cpu := processCPU() - cpu0
		if err := errors.Join(err, stopProfile()); err != nil {
			return fmt.Errorf("POST from %d connections: %w", conns, err)
		}
		if postProfile != "" {
			fmt.Fprintf(h.stderr, "# wrote the CPU profile of the POST load (%d connections) to %s\n", conns, postProfile)
		}
		p := fmt.Sprintf("taxii_post_%dconn", conns)
		if err := errors.Join(
			h.rec.add(p+"_objects_per_s", size, float64(acked)/secs, "objects/s"),
			h.rec.add(p+"_cpu_us_per_object", size, cpu.Seconds()*1e6/float64(acked), "CPU-µs"),
		); err != nil {
			return err
		}
	}
	return nil
}

// taxiiGrow imports generated objects, marked TLP:CLEAR, into the collection until it holds size.
func (h *harness) taxiiGrow(ctx context.Context, n *taxiiNode, size int) error {
	add := size - n.size
	if add < 0 {
		return fmt.Errorf("the kept store in %s holds %d objects: ask for sizes of at least that many", n.dir, n.size)
	}
	if add == 0 {
		return nil
	}
	h.logger.Info("importing into the collection", "objects", add, "total", size)
	pr, pw := io.Pipe()
	go func() {
		bw := &bytes.Buffer{}
		var raw []byte
		bw.WriteByte('[')
		var err error
		for i := range add {
			if i > 0 {
				bw.WriteByte(',')
			}
			raw = n.gen.Append(raw[:0])
			bw.Write(clearMarked(raw))
			if bw.Len() > 1<<20 {
				if _, err = pw.Write(bw.Bytes()); err != nil {
					break
				}
				bw.Reset()
			}
		}
		bw.WriteByte(']')
		if err == nil {
			_, err = pw.Write(bw.Bytes())
		}
		pw.CloseWithError(err)
	}()
	start := time.Now()
	rep, err := ingest.New(n.st, h.logger).Import(ctx, pr, ingest.Options{Collection: taxiiCollection})
	secs := time.Since(start).Seconds()
	pr.CloseWithError(errors.New("import ended"))
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if rep.Accepted != add {
		first := ""
		if len(rep.Errors) > 0 {
			first = rep.Errors[0].Error()
		}
		return fmt.Errorf("the import accepted %d of %d generated objects (%d duplicate, %d rejected; first: %s)",
			rep.Accepted, add, rep.Duplicate, rep.Rejected, first)
	}
	n.size = size
	if err := os.WriteFile(filepath.Join(n.dir, "size"), []byte(strconv.Itoa(size)+"\n"), 0o644); err != nil {
		return err
	}
	return h.rec.add("taxii_collection_import_objects_per_s", size, float64(add)/secs, "objects/s")
}

// TLP 2.0 markings the generator writes, other than CLEAR (all ids have the same length).
var restrictive = [][]byte{[]byte(stix.TLP2Green), []byte(stix.TLP2Amber), []byte(stix.TLP2AmberStrict), []byte(stix.TLP2Red)}

// clearMarked returns a generated object marked TLP:CLEAR only, which every viewer may read: its TLP
// markings are replaced by CLEAR, and an object without markings (observables, some identities)
// gets one.
func clearMarked(raw []byte) []byte {
	if !bytes.Contains(raw, []byte(`"object_marking_refs":[`)) {
		out := make([]byte, 0, len(raw)+80)
		out = append(out, `{"object_marking_refs":["`+stix.TLP2Clear+`"],`...)
		return append(out, raw[1:]...)
	}
	for _, m := range restrictive {
		raw = bytes.ReplaceAll(raw, m, []byte(stix.TLP2Clear))
	}
	return raw
}

// ownedBy returns a generated object as one org created it (created_by_ref set or replaced), or
// nil for an observable: those have no creator, and their ids (derived from their values) repeat
// across seeds, so they would be duplicates of the collection's.
func ownedBy(raw []byte, org string) []byte {
	typ, _, _ := bytes.Cut(bytes.TrimPrefix(raw, []byte(`{"type":"`)), []byte(`"`))
	if c, _ := gen.CategoryOf(string(typ)); c == gen.CatObservable {
		return nil
	}
	key := []byte(`"created_by_ref":"`)
	i := bytes.Index(raw, key)
	if i < 0 {
		out := make([]byte, 0, len(raw)+80)
		out = append(out, `{"created_by_ref":"`+org+`",`...)
		return append(out, raw[1:]...)
	}
	start := i + len(key)
	end := bytes.IndexByte(raw[start:], '"')
	out := make([]byte, 0, len(raw)+len(org))
	out = append(out, raw[:start]...)
	out = append(out, org...)
	return append(out, raw[start+end:]...)
}

// postBodies generates k TAXII envelopes of size new objects created by the benchmark's org.
func (n *taxiiNode) postBodies(k, size int) [][]byte {
	bodies := make([][]byte, k)
	var raw []byte
	for b := range bodies {
		buf := bytes.NewBufferString(`{"objects":[`)
		for count := 0; count < size; {
			raw = n.post.Append(raw[:0])
			obj := ownedBy(raw, taxiiOrg)
			if obj == nil {
				continue
			}
			if count > 0 {
				buf.WriteByte(',')
			}
			buf.Write(obj)
			count++
		}
		buf.WriteString(`]}`)
		bodies[b] = buf.Bytes()
	}
	return bodies
}

func newLoadClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}}
}

// request sends one request to the node and returns the status and body.
func (n *taxiiNode) request(ctx context.Context, c *http.Client, method, pathQuery string, body []byte, dst []byte) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, n.base+pathQuery, rd)
	if err != nil {
		return 0, nil, dst, err
	}
	req.Header.Set("Accept", taxii.MediaTAXII)
	req.Header.Set("Authorization", n.auth)
	if body != nil {
		req.Header.Set("Content-Type", taxii.MediaTAXII)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, dst, err
	}
	defer resp.Body.Close()
	b := bytes.NewBuffer(dst[:0])
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return resp.StatusCode, resp.Header, b.Bytes(), err
	}
	return resp.StatusCode, resp.Header, b.Bytes(), nil
}

// envelopeSummary reads the more and next members of a TAXII envelope and counts its objects,
// without decoding them.
func envelopeSummary(body []byte) (more bool, next string, count int, err error) {
	d := jsontext.NewDecoder(bytes.NewReader(body))
	if tok, err := d.ReadToken(); err != nil || tok.Kind() != '{' {
		return false, "", 0, fmt.Errorf("the envelope is not a JSON object: %v", err)
	}
	for d.PeekKind() != '}' {
		name, err := d.ReadToken()
		if err != nil {
			return false, "", 0, err
		}
		switch name.String() {
		case "more":
			tok, err := d.ReadToken()
			if err != nil {
				return false, "", 0, err
			}
			more = tok.Kind() == 't'
		case "next":
			tok, err := d.ReadToken()
			if err != nil {
				return false, "", 0, err
			}
			next = tok.String()
		case "objects":
			if _, err := d.ReadToken(); err != nil {
				return false, "", 0, err
			}
			for d.PeekKind() != ']' {
				if err := d.SkipValue(); err != nil {
					return false, "", 0, err
				}
				count++
			}
			if _, err := d.ReadToken(); err != nil {
				return false, "", 0, err
			}
		default:
			if err := d.SkipValue(); err != nil {
				return false, "", 0, err
			}
		}
	}
	return more, next, count, nil
}

// taxiiExport pages through the whole collection with next values and times it. It checks that the
// pages hold exactly size objects, and returns the query of every page (the first one included),
// both as next values and as added_after values.
func (h *harness) taxiiExport(ctx context.Context, n *taxiiNode, c *http.Client, size, limit int, figure string) (nexts, afters []string, err error) {
	h.logger.Info("export", "objects", size, "limit", limit)
	first := n.objects + "?limit=" + strconv.Itoa(limit)
	q := first
	nexts, afters = []string{first}, []string{first}
	var buf []byte
	total, pages := 0, 0
	start, cpu0 := time.Now(), processCPU()
	for {
		status, hdr, body, err := n.request(ctx, c, http.MethodGet, q, nil, buf)
		buf = body
		if err != nil {
			return nil, nil, err
		}
		if status != http.StatusOK {
			return nil, nil, fmt.Errorf("export page %d: status %d: %s", pages, status, body)
		}
		more, next, count, err := envelopeSummary(body)
		if err != nil {
			return nil, nil, fmt.Errorf("export page %d: %w", pages, err)
		}
		pages++
		total += count
		if !more {
			break
		}
		if next == "" || count == 0 {
			return nil, nil, fmt.Errorf("export page %d: more without next or objects", pages)
		}
		q = first + "&next=" + url.QueryEscape(next)
		nexts = append(nexts, q)
		afters = append(afters, first+"&added_after="+url.QueryEscape(hdr.Get(taxii.HeaderDateAddedLast)))
	}
	secs, cpu := time.Since(start).Seconds(), processCPU()-cpu0
	if total != size {
		return nil, nil, fmt.Errorf("export with limit %d returned %d objects in %d pages, want %d", limit, total, pages, size)
	}
	return nexts, afters, errors.Join(
		h.rec.add(figure, size, secs, "s"),
		h.rec.add(strings.TrimSuffix(figure, "_seconds")+"_objects_per_s", size, float64(total)/secs, "objects/s"),
		h.rec.add(strings.TrimSuffix(figure, "_seconds")+"_cpu_seconds", size, cpu.Seconds(), "CPU-s"),
	)
}

// loadResult is what a GET load measured.
type loadResult struct {
	lat   []time.Duration // sorted
	bytes int64
	secs  float64
	cpu   time.Duration // CPU time of the whole process (server and load generator)
}

func (r loadResult) rate() float64 { return float64(len(r.lat)) / r.secs }

// pct returns the latency at quantile q, in milliseconds (q=1: the maximum).
func (r loadResult) pct(q float64) float64 {
	if len(r.lat) == 0 {
		return 0
	}
	i := min(len(r.lat)-1, int(q*float64(len(r.lat))))
	return float64(r.lat[i]) / float64(time.Millisecond)
}

// getLoad requests random pages of urls from conns connections for dur (after a warm-up of a fifth
// of dur that is not counted) and measures each request's latency, response read whole.
// getLoad requests random urls from conns connections for dur after a warm-up. With rate > 0 the
// load is paced: connection w's k-th request is due at begin + (k·conns + w)/rate, and its latency
// counts from that time (so a late server is not hidden by requests that were never sent).
func getLoad(ctx context.Context, c *http.Client, n *taxiiNode, urls []string, conns int, dur time.Duration, rate float64, profile string) (loadResult, error) {
	warm := dur / 5
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		res      loadResult
		firstErr error
	)
	begin := time.Now().Add(warm)
	end := begin.Add(dur)
	for w := range conns {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			lat := make([]time.Duration, 0, 1024)
			var bytesRead int64
			var buf []byte
			for k := 0; ; k++ {
				t0 := time.Now()
				if rate > 0 {
					// Due times run from the start of the warm-up, so that the measured window
					// opens on a load already at its rate.
					due := begin.Add(-warm).Add(time.Duration(float64(k*conns+w) / rate * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
					t0 = due
				}
				if !t0.Before(end) {
					break
				}
				status, _, body, err := n.request(ctx, c, http.MethodGet, urls[r.IntN(len(urls))], nil, buf)
				buf = body
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("status %d: %s", status, body)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
				if t0.After(begin) {
					lat = append(lat, time.Since(t0))
					bytesRead += int64(len(body))
				}
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.bytes += bytesRead
			mu.Unlock()
		})
	}
	time.Sleep(time.Until(begin))
	cpu0 := processCPU()
	stopProfile, err := startProfile(profile)
	if err != nil {
		cancel()
		wg.Wait()
		return res, err
	}
	wg.Wait()
	res.secs = time.Since(begin).Seconds()
	res.cpu = processCPU() - cpu0
	if err := stopProfile(); err != nil {
		return res, err
	}
	if firstErr != nil {
		return res, firstErr
	}
	slices.Sort(res.lat)
	return res, nil
}

// startProfile starts a CPU profile into the file at path ("": none) and returns what stops it.
func startProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating the CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, errors.Join(fmt.Errorf("starting the CPU profile: %w", err), f.Close())
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("writing the CPU profile: %w", err)
		}
		return nil
	}, nil
}

// postLoad posts the envelopes from conns connections and returns the time taken and the number of
// objects acknowledged: a 202 whose status resource counts every object of the envelope a success.
func postLoad(ctx context.Context, c *http.Client, n *taxiiNode, bodies [][]byte, size, conns int) (float64, int, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked int
		errs  []error
	)
	work := make(chan []byte, len(bodies))
	for _, b := range bodies {
		work <- b
	}
	close(work)
	start := time.Now()
	for range conns {
		wg.Go(func() {
			var buf []byte
			for b := range work {
				status, _, body, err := n.request(ctx, c, http.MethodPost, n.inbox, b, buf)
				buf = body
				if err == nil && status != http.StatusAccepted {
					err = fmt.Errorf("status %d: %.500s", status, body)
				}
				var ok int
				if err == nil {
					ok, err = statusSuccesses(body)
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if ok != size {
					errs = append(errs, fmt.Errorf("%d of %d objects succeeded: %.500s", ok, size, body))
				}
				acked += ok
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return time.Since(start).Seconds(), acked, errors.Join(errs...)
}

// statusSuccesses reads success_count from a TAXII status resource.
func statusSuccesses(body []byte) (int, error) {
	d := jsontext.NewDecoder(bytes.NewReader(body))
	if tok, err := d.ReadToken(); err != nil || tok.Kind() != '{' {
		return 0, fmt.Errorf("the status is not a JSON object: %v", err)
	}
	for d.PeekKind() != '}' {
		name, err := d.ReadToken()
		if err != nil {
			return 0, err
		}
		if name.String() != "success_count" {
			if err := d.SkipValue(); err != nil {
				return 0, err
			}
			continue
		}
		tok, err := d.ReadToken()
		if err != nil {
			return 0, err
		}
		if tok.Kind() != '0' {
			return 0, errors.New("success_count is not a number")
		}
		v, err := tok.Int()
		if err != nil {
			return 0, fmt.Errorf("success_count: %w", err)
		}
		return int(v), nil
	}
	return 0, errors.New("the status has no success_count")
}

// processCPU is the CPU time (user and system) the process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
