package sqlite

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// SharedObservables streams the observables carried by the latest forms of two objects or more.
// See store.Objects.
//
// Reading the row of every key of a shared value at random costs the pure-Go SQLite a B-tree seek
// and a page read per row (measured: 6-7 µs a row at 10M observables, most of a minute). Instead
// the pass reads each table once, in its own order, and sorts on disk:
//
//  1. observable_keys, in key order: a hash with two keys or more is a candidate. Only the
//     candidate hashes are kept (8 bytes each).
//  2. object_versions, in row order, the latest forms in scope that carry observables: each of
//     their observables whose hash is a candidate becomes a record (the hash, the value, the
//     form's id, stored time and labels), appended to one of a few temporary files chosen by
//     hash, so that every file holds whole groups. One reader per core scans its own range of
//     rows into its own files.
//  3. each file in turn (the readers' files of the same number together): read, sorted by hash
//     and place (so each group is in stored order), split into groups of equal value, and
//     yielded. The next file is read while the caller handles the groups of this one.
//
// Memory holds the candidate hashes and two files' records; the files (about 100 bytes per
// record) are removed when the pass ends. The pass reads in pages, each page its own snapshot:
// objects written during the pass may or may not be counted.
func (s *Store) SharedObservables(ctx context.Context, scope *store.ReadScope, limit int) iter.Seq2[store.ObservableGroup, error] {
	return func(yield func(store.ObservableGroup, error) bool) {
		if limit <= 0 {
			yield(store.ObservableGroup{}, fmt.Errorf("sqlite: shared observables: limit %d must be positive", limit))
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		fail := func(err error) { yield(store.ObservableGroup{}, fmt.Errorf("sqlite: shared observables: %w", err)) }
		spills, err := s.sharedSpill(ctx, scope)
		defer func() {
			for _, sp := range spills {
				sp.remove()
			}
		}()
		if err != nil {
			fail(err)
			return
		}
		if len(spills) == 0 {
			return
		}
		// The groups of each file number, one file ahead of the caller.
		type batch struct {
			groups []store.ObservableGroup
			err    error
		}
		batches := make(chan batch, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer close(batches)
			for i := range spills[0].files {
				var b batch
				if b.err = ctx.Err(); b.err == nil {
					b.groups, b.err = groupsOf(spills, i, limit)
				}
				select {
				case batches <- b:
				case <-ctx.Done():
					return
				}
				if b.err != nil {
					return
				}
			}
		}()
		defer func() {
			cancel()
			<-done
		}()
		for b := range batches {
			if b.err != nil {
				fail(b.err)
				return
			}
			for _, g := range b.groups {
				if !yield(g, nil) {
					return
				}
			}
		}
		if err := ctx.Err(); err != nil {
			fail(err)
		}
	}
}

// sharedSpill runs the first two steps of SharedObservables: it returns one spill per reader, all
// with the same number of files, or none when no hash has two keys.
func (s *Store) sharedSpill(ctx context.Context, scope *store.ReadScope) ([]*spill, error) {
	p, err := s.beginPass(ctx)
	if err != nil {
		return nil, err
	}
	defer p.end(ctx)
	cands, keys, err := p.candidates(ctx)
	if err != nil || len(cands) == 0 {
		return nil, err
	}
	set := newHashSet(cands)
	cands = nil
	var maxVid int64
	if err := p.conn.QueryRowContext(ctx, `SELECT ifnull(max(vid), 0) FROM object_versions`).Scan(&maxVid); err != nil {
		return nil, err
	}
	readers := s.parallelReaders()
	files := min(max(1, keys*spillRecordBytes/spillBytes+1), 256)
	var spills []*spill
	for range readers {
		sp, err := newSpill(files)
		if err != nil {
			return spills, err
		}
		spills = append(spills, sp)
	}
	// Reader r scans the rows (lo, hi]; the first uses p, the others passes of their own.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for r, sp := range spills {
		lo, hi := maxVid*int64(r)/int64(readers), maxVid*int64(r+1)/int64(readers)
		if r == readers-1 {
			hi = math.MaxInt64
		}
		wg.Go(func() {
			err := func() error {
				rp := p
				if r > 0 {
					var err error
					if rp, err = s.beginPass(ctx); err != nil {
						return err
					}
					defer rp.end(ctx)
				}
				return rp.spillRows(ctx, set, scope, lo, hi, sp)
			}()
			if err != nil {
				cancel()
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return spills, errors.Join(errs...)
}

// candidates returns the hashes of observable_keys with two keys or more, ascending, and how many
// keys they have in all. SQLite groups the keys, in the order of the table, a page at a time.
func (p *pass) candidates(ctx context.Context) (cands []int64, keys int, err error) {
	after, op := int64(math.MinInt64), ">="
	for {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		rows, err := p.query(ctx, `SELECT hash, count(*) FROM observable_keys WHERE hash `+op+` ?
			GROUP BY hash HAVING count(*) > 1 ORDER BY hash LIMIT ?`, after, sharedKeysPage)
		if err != nil {
			return nil, 0, err
		}
		n := 0
		for rows.Next() {
			var h, c int64
			if err := rows.Scan(&h, &c); err != nil {
				rows.Close()
				return nil, 0, err
			}
			cands = append(cands, h)
			keys += int(c)
			after = h
			n++
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, 0, err
		}
		if n < sharedKeysPage {
			return cands, keys, nil
		}
		op = ">"
	}
}

// sharedCols are the columns the row scan reads: as rowCols, without what a spill record does not
// keep (digest, timestamps) nor the hosted flags, which Go looks up (hosted).
var sharedCols = `v.vid, v.stored_at, v.cell | (v.obj_cell << 8) | (v.revoked << 16), ` + strings.Join([]string{"v.id", "v.type",
	"v.spec_version", "v.created_by_ref", "v.grp", "v.obj_grp", "v.obj_owner"}, " || char(0) || ") + ` || char(0) || v.observables`

// sharedTexts is how many NUL-ended texts precede the observables in sharedCols' text.
const sharedTexts = 7

// spillRows reads the latest forms in scope that carry observables among the rows (lo, hi], in
// row order a page at a time, and spills a record for each of their observables whose hash is a
// candidate.
func (p *pass) spillRows(ctx context.Context, cands *hashSet, scope *store.ReadScope, lo, hi int64, sp *spill) error {
	hosted := map[string]bool{}
	rows, err := p.query(ctx, `SELECT id FROM organisations WHERE NOT remote`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		hosted[id] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	q := &listQuery{}
	if scope != nil {
		q.scope(scope, "v.created_by_ref", "v.cell", "v.grp")
		q.scope(scope, "v.obj_owner", "v.obj_cell", "v.obj_grp")
	}
	var b strings.Builder
	b.WriteString(`SELECT ` + sharedCols + ` FROM object_versions v WHERE v.vid > ? AND v.vid <= ? AND v.latest AND v.observables IS NOT NULL`)
	for _, c := range q.where {
		b.WriteString(" AND " + c)
	}
	b.WriteString(" ORDER BY v.vid LIMIT ?")
	query := b.String()
	var (
		vid, stored, flags int64
		text               string
		v                  store.Version
		t                  [sharedTexts]string
		after              = lo
	)
	intern := map[string]string{}
	interned := func(s string) string {
		if x, ok := intern[s]; ok {
			return x
		}
		if len(intern) < maxIntern {
			s = strings.Clone(s)
			intern[s] = s
		}
		return s
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows, err := p.query(ctx, query, append(append([]any{after, hi}, q.args...), sharedRowsPage)...)
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(&vid, &stored, &flags, &text); err != nil {
				rows.Close()
				return err
			}
			n++
			after = vid
			rest := text
			for i := range t {
				k := strings.IndexByte(rest, 0)
				if k < 0 {
					rows.Close()
					return fmt.Errorf("row %d: malformed", vid)
				}
				t[i], rest = rest[:k], rest[k+1:]
			}
			v = store.Version{ID: t[0], Type: interned(t[1]), SpecVersion: interned(t[2]), CreatedByRef: interned(t[3]),
				Revoked: flags>>16&1 == 1, Stored: fromMicro(stored)}
			v.Label = store.Label{Cell: uint8(flags), Group: interned(t[4])}
			v.Object = store.ObjectLabel{Label: store.Label{Cell: uint8(flags >> 8), Group: interned(t[5])}, Owner: interned(t[6])}
			v.OwnerLocal, v.Object.OwnerLocal = hosted[v.CreatedByRef], hosted[v.Object.Owner]
			c := obsCursor{rest}
			for {
				o, ok := c.next()
				if !ok {
					break
				}
				h := fnv64(o.Kind, o.Value, true)
				if cands.has(h) {
					if err := sp.add(h, o, &v); err != nil {
						rows.Close()
						return err
					}
				}
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		if n < sharedRowsPage {
			return sp.flush()
		}
	}
}

// hashSet is a set of hashes: open addressing with linear probing, in a table at least twice as
// large as the set. The hashes are FNV-1a hashes already, so their low bits index the table.
type hashSet struct {
	slots []int64
	mask  uint64
	zero  bool // 0 is in the set (0 marks an empty slot)
}

func newHashSet(hs []int64) *hashSet {
	size := 1
	for size < 2*len(hs) {
		size <<= 1
	}
	s := &hashSet{slots: make([]int64, size), mask: uint64(size - 1)}
	for _, h := range hs {
		if h == 0 {
			s.zero = true
			continue
		}
		i := uint64(h) & s.mask
		for s.slots[i] != 0 && s.slots[i] != h {
			i = (i + 1) & s.mask
		}
		s.slots[i] = h
	}
	return s
}

func (s *hashSet) has(h int64) bool {
	if h == 0 {
		return s.zero
	}
	for i := uint64(h) & s.mask; ; i = (i + 1) & s.mask {
		switch s.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

// Sizes of the shared pass; variables so that tests can make them small.
var (
	// sharedRowsPage is how many rows one statement of the row scan reads.
	sharedRowsPage = 64 << 10
	// spillBytes is the size of the records one spill file should hold: what the last step of
	// the pass holds in memory at once.
	spillBytes = 64 << 20
)

// spillRecordBytes is the expected size of a record, to choose the number of files.
const spillRecordBytes = 128

// spill is the temporary files of one pass. A record is
//
//	hash (8 bytes, little endian), stored time (uvarint microseconds), flags (uvarint),
//	kind, value, id, type, spec version, created_by_ref, group, object group, object owner
//
// where each text is a reference to the pass's dictionary (uvarint index + 1) or 0 and the text
// itself (uvarint length and bytes). Kinds, types, spec versions, creators and groups repeat
// from record to record and go through the dictionary; values and ids are written out.
type spill struct {
	dir   string
	files []*os.File
	bufs  []*bufio.Writer
	dict  map[string]uint64
	words []string
	buf   []byte
}

// maxDict bounds the dictionary of a spill; texts past it are written out.
const maxDict = 1 << 16

func newSpill(n int) (*spill, error) {
	dir, err := os.MkdirTemp("", "renkei-shared-")
	if err != nil {
		return nil, err
	}
	sp := &spill{dir: dir, dict: map[string]uint64{}}
	for i := range n {
		f, err := os.Create(fmt.Sprintf("%s/%03d", dir, i))
		if err != nil {
			sp.remove()
			return nil, err
		}
		sp.files = append(sp.files, f)
		sp.bufs = append(sp.bufs, bufio.NewWriterSize(f, 64<<10))
	}
	return sp, nil
}

func (sp *spill) remove() {
	for _, f := range sp.files {
		f.Close()
	}
	os.RemoveAll(sp.dir)
}

func (sp *spill) word(b []byte, s string, dict bool) []byte {
	if dict {
		if i, ok := sp.dict[s]; ok {
			return binary.AppendUvarint(b, i+1)
		}
		if len(sp.words) < maxDict {
			s = strings.Clone(s)
			sp.dict[s] = uint64(len(sp.words))
			sp.words = append(sp.words, s)
			return binary.AppendUvarint(b, uint64(len(sp.words)))
		}
	}
	b = binary.AppendUvarint(append(b, 0), uint64(len(s)))
	return append(b, s...)
}

func (sp *spill) add(h int64, o stix.Observable, v *store.Version) error {
	b := binary.LittleEndian.AppendUint64(sp.buf[:0], uint64(h))
	b = binary.AppendUvarint(b, uint64(v.Stored.UnixMicro()))
	flags := uint64(v.Label.Cell) | uint64(v.Object.Cell)<<8
	for i, f := range []bool{v.Revoked, v.OwnerLocal, v.Object.OwnerLocal} {
		if f {
			flags |= 1 << (16 + i)
		}
	}
	b = binary.AppendUvarint(b, flags)
	b = sp.word(b, o.Kind, true)
	b = sp.word(b, o.Value, false)
	b = sp.word(b, v.ID, false)
	for _, s := range []string{v.Type, v.SpecVersion, v.CreatedByRef, v.Label.Group, v.Object.Group, v.Object.Owner} {
		b = sp.word(b, s, true)
	}
	sp.buf = b
	_, err := sp.bufs[uint64(h)%uint64(len(sp.files))].Write(b)
	return err
}

func (sp *spill) flush() error {
	for _, w := range sp.bufs {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// spilled is one record read back.
type spilled struct {
	o stix.Observable
	v store.Version
}

// groupsOf reads file i of every spill and returns its groups of two forms or more, each in
// stored order: the spills are given in the order of the rows they scanned.
func groupsOf(spills []*spill, i, limit int) ([]store.ObservableGroup, error) {
	// One string per file: the records' texts share it; what a group keeps is copied.
	data := make([]string, len(spills))
	// Where each record starts, with its hash: sorted by hash then place, so that the records of
	// a group stay in stored order.
	type at struct {
		hash  int64
		spill int
		off   int
	}
	var index []at
	for k, sp := range spills {
		raw, err := os.ReadFile(sp.files[i].Name())
		if err != nil {
			return nil, err
		}
		data[k] = string(raw)
		for off := 0; off < len(data[k]); {
			h, n, err := sp.skip(data[k][off:])
			if err != nil {
				return nil, fmt.Errorf("spill file %d.%d at %d: %w", k, i, off, err)
			}
			index = append(index, at{h, k, off})
			off += n
		}
	}
	slices.SortFunc(index, func(a, b at) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.spill, b.spill), cmp.Compare(a.off, b.off))
	})
	var (
		groups []store.ObservableGroup
		recs   []spilled
		vals   []stix.Observable
		counts []int
	)
	for i := 0; i < len(index); {
		j := i + 1
		for j < len(index) && index[j].hash == index[i].hash {
			j++
		}
		recs, vals, counts = recs[:0], vals[:0], counts[:0]
		for _, a := range index[i:j] {
			r, err := spills[a.spill].read(data[a.spill][a.off:])
			if err != nil {
				return nil, fmt.Errorf("spill file %d at %d: %w", a.spill, a.off, err)
			}
			recs = append(recs, r)
			// Usually one value per hash; more only when distinct values share it.
			if x := slices.Index(vals, r.o); x >= 0 {
				counts[x]++
			} else {
				vals, counts = append(vals, r.o), append(counts, 1)
			}
		}
		for x, o := range vals {
			if counts[x] < 2 {
				continue
			}
			g := store.ObservableGroup{Observable: stix.Observable{Kind: o.Kind, Value: strings.Clone(o.Value)}, Count: counts[x]}
			g.Versions = make([]store.Version, 0, min(limit, counts[x]))
			for _, r := range recs {
				if len(g.Versions) == limit {
					break
				}
				if r.o == o {
					r.v.ID = strings.Clone(r.v.ID)
					g.Versions = append(g.Versions, r.v)
				}
			}
			groups = append(groups, g)
		}
		i = j
	}
	return groups, nil
}

var errSpill = errors.New("malformed record")

// recordReader decodes a record; its texts share the data.
type recordReader struct {
	sp   *spill
	data string
}

func (d *recordReader) uvarint() (uint64, bool) {
	var x uint64
	for k, shift := 0, 0; k < len(d.data) && k < binary.MaxVarintLen64; k, shift = k+1, shift+7 {
		c := d.data[k]
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			d.data = d.data[k+1:]
			return x, true
		}
	}
	return 0, false
}

func (d *recordReader) text() (string, bool) {
	i, ok := d.uvarint()
	if !ok {
		return "", false
	}
	if i > 0 {
		if i > uint64(len(d.sp.words)) {
			return "", false
		}
		return d.sp.words[i-1], true
	}
	n, ok := d.uvarint()
	if !ok || n > uint64(len(d.data)) {
		return "", false
	}
	s := d.data[:n]
	d.data = d.data[n:]
	return s, true
}

// recordTexts is the number of texts in a record.
const recordTexts = 9

// decode reads the record at the start of d.data into r (when not nil) and returns its hash.
func (d *recordReader) decode(r *spilled) (int64, error) {
	if len(d.data) < 8 {
		return 0, errSpill
	}
	h := int64(binary.LittleEndian.Uint64([]byte(d.data[:8])))
	d.data = d.data[8:]
	stored, ok1 := d.uvarint()
	flags, ok2 := d.uvarint()
	if !ok1 || !ok2 {
		return 0, errSpill
	}
	var t [recordTexts]string
	for i := range t {
		var ok bool
		if t[i], ok = d.text(); !ok {
			return 0, errSpill
		}
	}
	if r == nil {
		return h, nil
	}
	r.o = stix.Observable{Kind: t[0], Value: t[1]}
	v := &r.v
	v.ID, v.Type, v.SpecVersion, v.CreatedByRef = t[2], t[3], t[4], t[5]
	v.Label.Group, v.Object.Group, v.Object.Owner = t[6], t[7], t[8]
	v.Stored = fromMicro(int64(stored))
	v.Label.Cell, v.Object.Cell = uint8(flags), uint8(flags>>8)
	v.Revoked, v.OwnerLocal, v.Object.OwnerLocal = flags>>16&1 == 1, flags>>17&1 == 1, flags>>18&1 == 1
	return h, nil
}

// skip returns the hash and the length of the record at the start of data.
func (sp *spill) skip(data string) (int64, int, error) {
	d := recordReader{sp: sp, data: data}
	h, err := d.decode(nil)
	return h, len(data) - len(d.data), err
}

// read decodes the record at the start of data.
func (sp *spill) read(data string) (spilled, error) {
	d := recordReader{sp: sp, data: data}
	var r spilled
	_, err := d.decode(&r)
	return r, err
}
