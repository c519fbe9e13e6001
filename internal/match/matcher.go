package match

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Hit is one value of one log line that matched.
type Hit struct {
	Line   int64     // 1-based line number
	Offset int64     // byte offset of the line
	Time   time.Time // the line's time; zero when it has none
	Kind   Kind      // how the value was read
	Value  string    // the value as written in the log (for a host, as found in its URL or email address)
	Refs   []uint32  // the indicators it matched, in ascending order, without repeats
}

// Matcher reads a log, looks up every value of every line, and reports the hits in input order.
// Chunks of lines are parsed and looked up on Workers goroutines at once.
//
// Besides the values a Format reads, the host of every URL and the domain of every email address
// are looked up (as a domain, or as an address when the host is one): a domain indicator matches
// http://a.evil.example/x and x@evil.example.
type Matcher struct {
	Source  Source
	Workers int // 0: GOMAXPROCS
	Read    ReadOptions
	// Year is the year given to syslog timestamps, which have none (0: the current year).
	Year int
	// Verify, when set, is called from the workers for each value that hit the index, with its
	// refs, every value of its line and the line's time (zero when it has none); it returns the refs
	// that really match (Compiled.Verify evaluates the patterns). A hit left with no refs is dropped.
	// It may reuse refs' memory and must be safe for concurrent use. With Verify, values are looked
	// up by their fingerprints (Searcher.Unverified): a hit's refs may then, rarely, include one
	// whose values differ from every value of the line, and Verify must drop it.
	Verify func(refs []uint32, line []Candidate, t time.Time) []uint32
}

// Stats sums up a run.
type Stats struct {
	Lines      int64
	Bytes      int64
	Candidates int64 // values looked up
	Hits       int64 // hits reported
	HitLines   int64 // lines with at least one hit
}

type result struct {
	hits  []Hit
	stats Stats
	err   error
}

type job struct {
	ch  chunk
	out chan result
}

// Run matches r, read in format f, and calls emit for each hit in input order. It stops at the
// first error: a *LineError for a bad line, emit's own error, or the context's.
func (m *Matcher) Run(ctx context.Context, r io.Reader, f Format, emit func(*Hit) error) (Stats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := m.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	year := m.Year
	if year == 0 {
		year = time.Now().Year()
	}
	c := newChunker(r, f, m.Read)
	jobs := make(chan job, workers)
	order := make(chan chan result, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			w := newWorker(m.Source, c.maxLine, c.size, year, m.Verify)
			for j := range jobs {
				j.out <- w.run(j.ch)
				c.recycle(j.ch)
			}
			w.release()
		})
	}
	var readErr error
	go func() {
		defer close(order)
		defer close(jobs)
		for {
			ch, err := c.next(ctx)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					readErr = err
				}
				return
			}
			out := make(chan result, 1)
			select {
			case order <- out:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- job{ch, out}:
			case <-ctx.Done():
				return
			}
		}
	}()
	var st Stats
	var err error
	for out := range order {
		var res result
		select {
		case res = <-out:
		case <-ctx.Done():
		}
		if err != nil {
			continue // drain
		}
		if res.err != nil {
			err = res.err
			cancel()
			continue
		}
		st.add(res.stats)
		for i := range res.hits {
			if e := emit(&res.hits[i]); e != nil {
				err = e
				cancel()
				break
			}
		}
		if cerr := ctx.Err(); cerr != nil && err == nil {
			err = cerr
		}
	}
	wg.Wait()
	c.release() // the reader and the workers are done with every chunk
	if err == nil {
		err = readErr
	}
	if err == nil {
		err = ctx.Err()
	}
	return st, err
}

func (s *Stats) add(o Stats) {
	s.Lines += o.Lines
	s.Bytes += o.Bytes
	s.Candidates += o.Candidates
	s.Hits += o.Hits
	s.HitLines += o.HitLines
}

// worker parses and looks up one chunk at a time.
type worker struct {
	src     Source
	verify  func([]uint32, []Candidate, time.Time) []uint32
	maxLine int
	year    int
	sr      Searcher
	ev      Event
	scratch arena
	cands   []Candidate
	lines   []lineInfo // per line with candidates
	candIx  []int32    // for each candidate, its index in lines
}

// newWorker returns a worker with room for the candidates of a typical chunk of size bytes.
func newWorker(src Source, maxLine, size, year int, verify func([]uint32, []Candidate, time.Time) []uint32) *worker {
	w, ok := workerPool.Get().(*worker)
	if !ok {
		n := size / 32 // about one candidate in 32 bytes of log
		w = &worker{cands: make([]Candidate, 0, n), candIx: make([]int32, 0, n), lines: make([]lineInfo, 0, n/4),
			ev: Event{Cands: make([]Candidate, 0, 64)}}
	}
	w.src, w.maxLine, w.year, w.verify = src, maxLine, year, verify
	// Verify checks the values of every hit: the index need not compare keys.
	w.sr.Unverified = verify != nil
	return w
}

// workerPool keeps workers, with the memory they grew (candidates, the Searcher's keys and probes),
// from one run to the next.
var workerPool sync.Pool

// release hands w to the next run. What it holds that points into the run's input is dropped.
func (w *worker) release() {
	w.src, w.verify = nil, nil
	clear(w.cands[:cap(w.cands)])
	clear(w.lines[:cap(w.lines)])
	clear(w.ev.Cands[:cap(w.ev.Cands)])
	w.ev.TimeText = nil
	w.scratch.reset()
	workerPool.Put(w)
}

type lineInfo struct {
	no, off int64
	time    []byte
	layout  timeLayout
	cstart  int32 // the line's candidates are cands[cstart:cend]
	cend    int32
}

func (w *worker) run(ch chunk) result {
	var res result
	w.scratch.reset()
	w.cands, w.lines, w.candIx = w.cands[:0], w.lines[:0], w.candIx[:0]
	w.ev.scratch = &w.scratch
	ev := &w.ev
	snap := w.src.Snapshot()
	lastLine := int32(-1)
	// The candidates are looked up a batch at a time as the lines are read, not once the whole
	// chunk is read: so the bytes they point to are still in the cache. A batch ends at the end of
	// a line, so that every value of a line is at hand when one of its hits is verified.
	searched := 0
	hit := func(ci int, refs []uint32) {
		ci += searched
		li := w.candIx[ci]
		l := w.lines[li]
		c := w.cands[ci]
		h := Hit{Line: l.no, Offset: l.off, Kind: c.Kind, Refs: slices.Clone(refs)}
		slices.Sort(h.Refs)
		h.Refs = slices.Compact(h.Refs)
		if l.layout != timeNone {
			tev := Event{TimeText: l.time, timeLayout: l.layout}
			if t, ok := tev.Timestamp(w.year); ok {
				h.Time = t
			}
		}
		if w.verify != nil {
			if h.Refs = w.verify(h.Refs, w.cands[l.cstart:l.cend], h.Time); len(h.Refs) == 0 {
				return
			}
		}
		h.Value = string(c.Value)
		res.hits = append(res.hits, h)
		if li != lastLine {
			res.stats.HitLines++
			lastLine = li
		}
	}
	flush := func() {
		if searched < len(w.cands) {
			snap.Search(&w.sr, w.cands[searched:], hit)
			searched = len(w.cands)
		}
	}
	err := ch.eachLine(w.maxLine, func(line []byte, no, off int64) error {
		res.stats.Lines++
		ev.Line, ev.Offset = no, off
		ev.Cands = ev.Cands[:0]
		ev.TimeText, ev.timeLayout = nil, timeNone
		if err := ch.parser.Parse(line, ev); err != nil {
			return &LineError{no, err}
		}
		if len(ev.Cands) == 0 {
			return nil
		}
		li := int32(len(w.lines))
		w.lines = append(w.lines, lineInfo{no: no, off: off, time: ev.TimeText, layout: ev.timeLayout, cstart: int32(len(w.cands))})
		for _, c := range ev.Cands {
			w.cands = append(w.cands, c)
			w.candIx = append(w.candIx, li)
			if c.Kind != KindURL && c.Kind != KindEmail {
				continue
			}
			if h, k := derivedHost(c); h != nil {
				w.cands = append(w.cands, Candidate{k, h})
				w.candIx = append(w.candIx, li)
			}
		}
		w.lines[li].cend = int32(len(w.cands))
		if len(w.cands)-searched >= searchBatch/2 { // one Search batch: a line adds few candidates
			flush()
		}
		return nil
	})
	res.stats.Bytes = int64(len(ch.data))
	if err != nil {
		// The hits of the lines before the bad one are not reported: the chunk fails as a whole.
		res.hits, res.stats.Hits, res.stats.HitLines = nil, 0, 0
		res.err = err
		return res
	}
	flush()
	res.stats.Candidates = int64(len(w.cands))
	res.stats.Hits = int64(len(res.hits))
	return res
}

// derivedHost returns the host of a URL or the domain of an email address, and its kind.
func derivedHost(c Candidate) ([]byte, Kind) {
	switch c.Kind {
	case KindEmail:
		at := bytes.LastIndexByte(c.Value, '@')
		if at < 0 {
			return nil, 0
		}
		return c.Value[at+1:], KindDomain
	case KindURL:
		v := c.Value
		if i := indexSchemeSep(v); i >= 0 {
			v = v[i+3:]
		}
		for i, c := range v {
			if c == '/' || c == '?' || c == '#' {
				v = v[:i]
				break
			}
		}
		if i := bytes.LastIndexByte(v, '@'); i >= 0 {
			v = v[i+1:]
		}
		if len(v) > 0 && v[0] == '[' {
			if i := bytes.IndexByte(v, ']'); i > 0 {
				return v[1:i], KindIPv6
			}
			return nil, 0
		}
		if i := bytes.LastIndexByte(v, ':'); i >= 0 {
			v = v[:i]
		}
		if len(v) == 0 {
			return nil, 0
		}
		if c := v[len(v)-1]; c >= '0' && c <= '9' {
			if _, ok := parseIPv4(v); ok {
				return v, KindIP
			}
			if _, err := netip.ParseAddr(string(v)); err == nil {
				return v, KindIP
			}
		}
		return v, KindDomain
	}
	return nil, 0
}

// indexSchemeSep is bytes.Index(v, "://"), quicker when the first ':' starts it, as in most URLs.
func indexSchemeSep(v []byte) int {
	for off := 0; ; {
		i := bytes.IndexByte(v[off:], ':')
		if i < 0 {
			return -1
		}
		i += off
		if len(v)-i >= 3 && v[i+1] == '/' && v[i+2] == '/' {
			return i
		}
		off = i + 1
	}
}
