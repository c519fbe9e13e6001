package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/renkei-cti/renkei/internal/store"
)

// The read cache serves the collection pages a TAXII server reads most (the latest version of each
// object, after a cursor or added_after, optionally narrowed by type and by a viewer's scope) from
// memory: a page read through SQLite costs about 5 µs of CPU per form (the join, 20 columns, the
// raw bytes), which caps a 100-object page at about 2,000 pages per second.
//
// It holds two things:
//
//   - each collection's members, (date_added, vid) in date_added order, read once and then
//     caught up with the members added since (date_added only grows in a collection, across
//     processes too: the writer takes it from the collection's row inside its transaction);
//   - forms by vid: the columns List reads, and the form's latest flag, up to a byte budget.
//
// Forms are packed one after the other into slabs: large byte arrays that hold no pointers, written
// once and never changed after (but for each form's memo word, which is atomic), so that a cache of
// a million forms is a few hundred objects for the garbage collector, not millions, and a form's
// header and texts share its first cache lines. An index maps each vid to its slab and offset.
// Over the budget, the oldest slab goes, with the index entries that point into it; a reader still
// holding a form of it keeps the slab alive and reads it unchanged.
//
// Consistency: every commit, by this process or another, changes SQLite's data_version as seen by
// a connection that did not make it. The cache keeps one read connection for that question and asks
// it before every page; when the answer changed, the generation goes up, which retires the forms
// (their flags and labels may have changed) and makes each collection catch up before its next
// page. A form read from a snapshot older than a generation is never kept under it: a fill is kept
// only if the generation did not move while it was read. A collection counts the statements that
// removed members from it (TAXII DELETE): when the count moved, its members are read again in full.
// The cache is off unless WithReadCache sets a budget.
type readCache struct {
	budget int64 // bytes of slabs kept, at most

	dvMu      sync.Mutex
	dvConn    *sql.Conn
	dvStmt    *sql.Stmt // PRAGMA data_version, on dvConn
	dvLast    int64
	dvStarted atomic.Uint64 // data_version questions asked so far
	dvAnswer  uint64        // the number of the last one answered (under dvMu)
	gen       atomic.Uint64

	index [cacheShards]indexShard

	// fillMu guards the slabs being filled and dropped. Lock order: fillMu, then an index shard.
	fillMu   sync.Mutex
	slabSize int     // of an ordinary slab; 0: the budget is too small to keep any form
	slabs    []*slab // oldest first; the last is being filled
	bytes    int64   // of all the slabs
	nextSlab uint32
	table    atomic.Pointer[slabTable] // the slabs by id, for readers

	collMu sync.Mutex
	colls  map[int64]*members

	pages sync.Pool // *[]store.Version handed back by ReusePage
}

const (
	cacheShards = 64
	maxSlab     = 4 << 20 // bytes of an ordinary slab; a larger form gets a slab of its own
	minSlab     = 512     // a smaller budget keeps no form
)

// indexShard maps vids to the location of their form: slab id << 32 | offset.
type indexShard struct {
	mu sync.RWMutex
	m  map[int64]uint64
}

// slab is a run of packed forms. buf is allocated once; the bytes below used are never written
// again, but for the forms' memo words.
type slab struct {
	id   uint32
	buf  []byte
	used int // under readCache.fillMu
}

// slabTable is an immutable snapshot of the slabs, by id: slab id is s[id-first].
type slabTable struct {
	first uint32
	s     []*slab
}

// formHeader starts every packed form; its texts follow it, then its raw bytes. It holds no
// pointers, so that it may live in a slab.
type formHeader struct {
	vid    int64
	gen    uint64 // the generation it was read in
	stored int64  // microseconds
	memo   atomic.Uint32
	rawLen uint32
	size   uint32            // of the whole record, a multiple of 8
	ends   [formTexts]uint32 // where each text ends, counted from the end of the header
	digest [sha256.Size]byte
	cell   uint8
	ocell  uint8
	flags  uint8
}

const headerSize = (int(unsafe.Sizeof(formHeader{})) + 7) &^ 7

// Flags of a formHeader.
const (
	flagLatest = 1 << iota
	flagRevoked
	flagLocal  // the creator is hosted here
	flagOLocal // the object's owner is hosted here
)

// The texts of a packed form, those a page's selection reads first, next to the header.
const (
	formCreatedBy = iota
	formObjOwner
	formType
	formGroup
	formObjGroup
	formID
	formSpec
	formCreated
	formModified
	formVersionKey
	formTexts
)

func versionTexts(v *store.Version) [formTexts]string {
	return [formTexts]string{v.CreatedByRef, v.Object.Owner, v.Type, v.Label.Group, v.Object.Group, v.ID,
		v.SpecVersion, v.Created, v.Modified, v.VersionKey}
}

// recordSize is the bytes a packed form takes: header, texts and raw bytes, rounded up to 8.
func recordSize(v *store.Version) int {
	n := headerSize + len(v.Raw)
	for _, t := range versionTexts(v) {
		n += len(t)
	}
	return (n + 7) &^ 7
}

// packForm writes v into dst, which is recordSize(v) bytes long and 8-byte aligned, and returns
// its header.
func packForm(dst []byte, v *store.Version, vid int64, latest bool, gen uint64) *formHeader {
	h := (*formHeader)(unsafe.Pointer(&dst[0]))
	h.vid, h.gen, h.stored, h.rawLen, h.size = vid, gen, v.Stored.UnixMicro(), uint32(len(v.Raw)), uint32(len(dst))
	h.digest, h.cell, h.ocell = v.Digest, v.Label.Cell, v.Object.Cell
	h.flags = 0
	for _, f := range []struct {
		on   bool
		flag uint8
	}{{latest, flagLatest}, {v.Revoked, flagRevoked}, {v.OwnerLocal, flagLocal}, {v.Object.OwnerLocal, flagOLocal}} {
		if f.on {
			h.flags |= f.flag
		}
	}
	at := headerSize
	for i, t := range versionTexts(v) {
		at += copy(dst[at:], t)
		h.ends[i] = uint32(at - headerSize)
	}
	copy(dst[at:], v.Raw)
	return h
}

func (h *formHeader) has(flag uint8) bool { return h.flags&flag != 0 }

// touch reads a byte of each cache line of the form, which the page reads next (its texts to select
// and unpack it, its raw bytes to write them out): done for a whole window of forms in a row, their
// loads from memory overlap instead of coming one after the other.
func (h *formHeader) touch() byte {
	var b byte
	for off := 64; off < int(h.size); off += 64 {
		b ^= *(*byte)(unsafe.Add(unsafe.Pointer(h), off))
	}
	return b
}

// touched keeps what touch read, so that the compiler keeps the loads.
//
//go:noinline
func touched(byte) {}

// text returns the text i, pointing into the slab, which is never written once packed.
func (h *formHeader) text(i int) string {
	var start uint32
	if i > 0 {
		start = h.ends[i-1]
	}
	if h.ends[i] == start {
		return ""
	}
	return unsafe.String((*byte)(unsafe.Add(unsafe.Pointer(h), headerSize+int(start))), int(h.ends[i]-start))
}

// raw returns the form's bytes, pointing into the slab (capacity cut, so that an append copies).
func (h *formHeader) raw() []byte {
	if h.rawLen == 0 {
		return nil
	}
	p := (*byte)(unsafe.Add(unsafe.Pointer(h), headerSize+int(h.ends[formTexts-1])))
	return unsafe.Slice(p, int(h.rawLen))
}

// versionInto unpacks the form into v. Its Raw and texts share the slab's bytes: callers must not
// write into them, as into any Raw a store returns. Its Memo is the form's memo word.
func (h *formHeader) versionInto(v *store.Version) {
	*v = store.Version{
		ID: h.text(formID), Type: h.text(formType), SpecVersion: h.text(formSpec), Created: h.text(formCreated),
		Modified: h.text(formModified), VersionKey: h.text(formVersionKey), CreatedByRef: h.text(formCreatedBy),
		Revoked: h.has(flagRevoked), Digest: h.digest, Raw: h.raw(), Stored: fromMicro(h.stored),
		Label: store.Label{Cell: h.cell, Group: h.text(formGroup)}, OwnerLocal: h.has(flagLocal),
		Object: store.ObjectLabel{Label: store.Label{Cell: h.ocell, Group: h.text(formObjGroup)},
			Owner: h.text(formObjOwner), OwnerLocal: h.has(flagOLocal)},
		Memo: &h.memo,
	}
}

// members is one collection's (date_added, vid) pairs in date_added order. The slices only grow
// (a removal replaces them), so a reader may keep a prefix of them without the lock.
type members struct {
	mu       sync.RWMutex
	gen      uint64 // the generation they were caught up in; 0: never read
	removals int64  // the collection's removals count when they were read
	dates    []int64
	vids     []int64
	// locs holds, for each member, where its form was last found (0: nowhere yet), so that a page
	// finds its forms in a run of memory rather than through the index, without a lock. A hint
	// only: the form's header says whether it is still the member's form, of this generation.
	locs []*locChunk
	// last answers, for forms of the collection that are not the latest of their object, whether no
	// later form of the object is in the collection (reset with every generation).
	last map[int64]bool
}

const locChunkSize = 4096

type locChunk [locChunkSize]atomic.Uint64

// memberView is a prefix of a collection's members, safe to read without the lock.
type memberView struct {
	dates []int64
	vids  []int64
	locs  []*locChunk
}

func (v *memberView) loc(i int) uint64 { return v.locs[i/locChunkSize][i%locChunkSize].Load() }

func (v *memberView) setLoc(i int, loc uint64) { v.locs[i/locChunkSize][i%locChunkSize].Store(loc) }

// WithReadCache lets the store keep up to budget bytes of forms in memory to serve collection pages
// (see readCache); 0, the default, keeps none. The server sets it; commands that read once do not.
func WithReadCache(budget int64) Option { return func(o *options) { o.readCache = budget } }

func newReadCache(ctx context.Context, rdb *sql.DB, budget int64) (*readCache, error) {
	conn, err := rdb.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read cache connection: %w", err)
	}
	st, err := conn.PrepareContext(ctx, `PRAGMA data_version`)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: read cache: %w", err), conn.Close())
	}
	c := &readCache{budget: budget, dvConn: conn, dvStmt: st, colls: map[int64]*members{}}
	if size := min(maxSlab, budget/16) &^ 7; size >= minSlab {
		c.slabSize = int(size)
	}
	for i := range c.index {
		c.index[i].m = map[int64]uint64{}
	}
	c.table.Store(&slabTable{})
	c.nextSlab = 1 // a location is never 0
	c.gen.Store(1)
	if c.dvLast, err = c.dataVersion(ctx); err != nil {
		return nil, errors.Join(err, c.close())
	}
	return c, nil
}

func (c *readCache) close() error { return errors.Join(c.dvStmt.Close(), c.dvConn.Close()) }

func (c *readCache) dataVersion(ctx context.Context) (int64, error) {
	var dv int64
	if err := c.dvStmt.QueryRowContext(ctx).Scan(&dv); err != nil {
		return 0, fmt.Errorf("sqlite: data_version: %w", err)
	}
	return dv, nil
}

// sync returns the current generation, after moving it on if anything was committed before the
// call. One question answers every caller that arrived before it was asked: a caller waiting for
// the lock while another asks uses the answer of a question asked after it arrived when there is
// one, so that busy connections share the question rather than queue to ask it one by one.
func (c *readCache) sync(ctx context.Context) (uint64, error) {
	want := c.dvStarted.Load() + 1 // a question numbered want or later was asked after this call began
	c.dvMu.Lock()
	defer c.dvMu.Unlock()
	if c.dvAnswer >= want {
		return c.gen.Load(), nil
	}
	n := c.dvStarted.Add(1)
	dv, err := c.dataVersion(ctx)
	if err != nil {
		return 0, err
	}
	c.dvAnswer = n
	if dv != c.dvLast {
		c.dvLast = dv
		return c.gen.Add(1), nil
	}
	return c.gen.Load(), nil
}

// members returns the collection's members as of generation gen or a later one (a caller that
// synced earlier may use newer members; catching up for it again would go back): a prefix of each
// slice, safe to read without a lock.
func (c *readCache) members(ctx context.Context, rdb *sql.DB, cid int64, gen uint64) (*members, memberView, error) {
	c.collMu.Lock()
	m := c.colls[cid]
	if m == nil {
		m = &members{}
		c.colls[cid] = m
	}
	c.collMu.Unlock()
	m.mu.RLock()
	if m.gen >= gen {
		view := memberView{m.dates, m.vids, m.locs}
		m.mu.RUnlock()
		return m, view, nil
	}
	m.mu.RUnlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gen < gen {
		if err := m.catchUp(ctx, rdb, cid); err != nil {
			return nil, memberView{}, err
		}
		m.gen, m.last = gen, nil
	}
	return m, memberView{m.dates, m.vids, m.locs}, nil
}

// catchUp reads the members added since the last one held, or all of them again when some were
// removed since they were read (the collection's removals count moved), in one snapshot.
func (m *members) catchUp(ctx context.Context, rdb *sql.DB, cid int64) (err error) {
	tx, err := rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: members of collection %d: %w", cid, err)
	}
	defer func() { err = errors.Join(err, tx.Rollback()) }()
	var removals int64
	if err := tx.QueryRowContext(ctx, `SELECT removals FROM collections WHERE cid = ?`, cid).Scan(&removals); err != nil {
		return fmt.Errorf("sqlite: members of collection %d: %w", cid, err)
	}
	dates, vids, locs := m.dates, m.vids, m.locs
	if removals != m.removals {
		dates, vids, locs = nil, nil, nil // new slices: readers may hold the old ones
	}
	var after int64
	if n := len(dates); n > 0 {
		after = dates[n-1]
	}
	rows, err := tx.QueryContext(ctx, `SELECT date_added, vid FROM collection_objects
		WHERE cid = ? AND date_added > ? ORDER BY date_added`, cid, after)
	if err != nil {
		return fmt.Errorf("sqlite: members of collection %d: %w", cid, err)
	}
	defer rows.Close()
	for rows.Next() {
		var at, vid int64
		if err := rows.Scan(&at, &vid); err != nil {
			return fmt.Errorf("sqlite: members of collection %d: %w", cid, err)
		}
		dates, vids = append(dates, at), append(vids, vid)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: members of collection %d: %w", cid, err)
	}
	for len(locs)*locChunkSize < len(vids) {
		locs = append(locs, new(locChunk))
	}
	m.dates, m.vids, m.locs, m.removals = dates, vids, locs, removals
	return nil
}

// form returns the cached form vid and its location, when it was read in generation gen.
func (c *readCache) form(vid int64, gen uint64) (*formHeader, uint64) {
	sh := &c.index[uint64(vid)%cacheShards]
	sh.mu.RLock()
	loc, ok := sh.m[vid]
	sh.mu.RUnlock()
	if !ok {
		return nil, 0
	}
	return c.table.Load().header(loc, vid, gen), loc
}

// header returns the form at loc when it is form vid read in generation gen; nil when not, or
// when its slab is not in t (dropped, or newer than t).
func (t *slabTable) header(loc uint64, vid int64, gen uint64) *formHeader {
	id, off := uint32(loc>>32), int(uint32(loc))
	if id-t.first >= uint32(len(t.s)) {
		return nil
	}
	buf := t.s[id-t.first].buf
	if off+headerSize > len(buf) { // only if slab ids wrapped around: never trust a location blindly
		return nil
	}
	h := (*formHeader)(unsafe.Pointer(&buf[off]))
	if h.vid != vid || h.gen != gen {
		return nil
	}
	return h
}

// place packs a form read in generation gen into a slab and returns it with its location, unless
// the generation has moved on since or the form does not fit in the budget; then into memory of its
// own, which only the caller sees (location 0).
func (c *readCache) place(v *store.Version, vid int64, latest bool, gen uint64) placed {
	size := recordSize(v)
	c.fillMu.Lock()
	defer c.fillMu.Unlock()
	if c.gen.Load() != gen || c.slabSize == 0 || int64(size) > c.budget {
		return placed{h: packForm(make([]byte, size), v, vid, latest, gen)}
	}
	cur := c.current(size)
	off := cur.used
	h := packForm(cur.buf[off:off+size:off+size], v, vid, latest, gen)
	cur.used += size
	loc := uint64(cur.id)<<32 | uint64(off)
	sh := &c.index[uint64(vid)%cacheShards]
	sh.mu.Lock()
	sh.m[vid] = loc
	sh.mu.Unlock()
	return placed{h: h, loc: loc}
}

// placed is a form read for the read cache, and where it is kept (0: not kept).
type placed struct {
	h   *formHeader
	loc uint64
}

// current returns the slab to write a form of size bytes into, starting a new one (and dropping
// the oldest ones over the budget) when the last is full. Under fillMu.
func (c *readCache) current(size int) *slab {
	if n := len(c.slabs); n > 0 && c.slabs[n-1].used+size <= len(c.slabs[n-1].buf) {
		return c.slabs[n-1]
	}
	s := &slab{id: c.nextSlab, buf: make([]byte, max(c.slabSize, size))}
	c.nextSlab++
	for len(c.slabs) > 0 && c.bytes+int64(len(s.buf)) > c.budget {
		c.drop()
	}
	c.slabs = append(c.slabs, s)
	c.bytes += int64(len(s.buf))
	t := &slabTable{first: c.slabs[0].id, s: slices.Clone(c.slabs)}
	c.table.Store(t)
	return s
}

// drop forgets the oldest slab: the index entries that point into it go. Under fillMu.
func (c *readCache) drop() {
	s := c.slabs[0]
	for off := 0; off < s.used; {
		h := (*formHeader)(unsafe.Pointer(&s.buf[off]))
		sh := &c.index[uint64(h.vid)%cacheShards]
		sh.mu.Lock()
		if loc, ok := sh.m[h.vid]; ok && loc == uint64(s.id)<<32|uint64(off) {
			delete(sh.m, h.vid)
		}
		sh.mu.Unlock()
		off += int(h.size)
	}
	c.slabs[0] = nil
	c.slabs = c.slabs[1:]
	c.bytes -= int64(len(s.buf))
}

// cacheable says whether the read cache answers f: a collection's latest versions, in the
// greatest spec version of each, optionally narrowed by type, scope and added_after.
func cacheable(f store.Filter) bool {
	return f.Collection != "" && len(f.IDs) == 0 && len(f.SpecVersions) == 0 && f.Versions.Kind == store.VersionsLast
}

// cachedPage is page for a cacheable filter, from the read cache. It selects what the query of
// buildList and sql selects, in the same order, with the same cursor.
func (s *Store) cachedPage(ctx context.Context, f store.Filter, cid int64, after store.Cursor, limit int) (store.Page, error) {
	c := s.rc
	page := store.Page{Next: after}
	gen, err := c.sync(ctx)
	if err != nil {
		return page, err
	}
	m, view, err := c.members(ctx, s.rdb, cid, gen)
	if err != nil {
		return page, err
	}
	dates, vids := view.dates, view.vids
	start := after.At
	if !f.AddedAfter.IsZero() {
		start = max(start, f.AddedAfter.UnixMicro())
	}
	i := sort.Search(len(dates), func(i int) bool { return dates[i] > start })
	if vs, ok := c.pages.Get().(*[]store.Version); ok {
		page.Versions = (*vs)[:0]
	} else {
		page.Versions = make([]store.Version, 0, min(limit, 256))
	}
	var (
		forms   = make([]*formHeader, 0, min(limit+1, 256))
		missing []int64
		filled  []placed
	)
	t := c.table.Load()
	for i < len(dates) {
		// A window of members: as many as the page still needs, and one to tell whether there is more.
		n := min(len(dates)-i, max(limit+1-len(page.Versions), 16))
		forms, missing = forms[:0], missing[:0]
		// Where the members' forms were last found: loads that do not depend on one another, and no
		// lock between them, so that the processor waits for many of them at once.
		var b byte
		for j, vid := range vids[i : i+n] {
			var h *formHeader
			if loc := view.loc(i + j); loc != 0 {
				if h = t.header(loc, vid, gen); h != nil {
					b ^= h.touch()
				}
			}
			forms = append(forms, h)
		}
		touched(b)
		for j, h := range forms {
			if h != nil {
				continue
			}
			vid := vids[i+j]
			if h, loc := c.form(vid, gen); h != nil {
				forms[j] = h
				view.setLoc(i+j, loc)
				continue
			}
			missing = append(missing, vid)
		}
		if len(missing) > 0 {
			if filled, err = s.readForms(ctx, missing, gen, filled[:0]); err != nil {
				return store.Page{Next: after}, err
			}
			byVid := make(map[int64]placed, len(filled))
			for _, p := range filled {
				byVid[p.h.vid] = p
			}
			for j, h := range forms {
				if h == nil {
					p := byVid[vids[i+j]] // nil: the form is gone
					if forms[j] = p.h; p.loc != 0 {
						view.setLoc(i+j, p.loc)
					}
				}
			}
		}
		for j, h := range forms {
			if h == nil {
				continue
			}
			ok, err := s.selects(ctx, f, m, cid, gen, h)
			if err != nil {
				return store.Page{Next: after}, err
			}
			if !ok {
				continue
			}
			if len(page.Versions) == limit {
				page.More = true
				return page, nil
			}
			page.Versions = slices.Grow(page.Versions, 1)[:len(page.Versions)+1]
			v := &page.Versions[len(page.Versions)-1]
			h.versionInto(v)
			v.DateAdded = fromMicro(dates[i+j])
			page.Next = store.Cursor{At: dates[i+j], Seq: h.vid}
		}
		i += n
	}
	return page, nil
}

// ReusePage takes back the Versions of a page List returned (store.PageReuser): the next page read
// from the read cache is built in them, in memory the processor holds, rather than in new memory.
func (s *Store) ReusePage(vs []store.Version) {
	if s.rc == nil || cap(vs) == 0 || cap(vs) > MaxPageSize {
		return
	}
	vs = vs[:cap(vs)]
	clear(vs) // nothing kept alive from here
	s.rc.pages.Put(&vs)
}

// selects says whether the query for f selects the cached form h of collection cid.
func (s *Store) selects(ctx context.Context, f store.Filter, m *members, cid int64, gen uint64, h *formHeader) (bool, error) {
	if len(f.Types) > 0 && !slices.Contains(f.Types, h.text(formType)) {
		return false, nil
	}
	if sc := f.Scope; sc != nil && (!scopeSelects(sc, h.text(formCreatedBy), h.has(flagLocal), store.Label{Cell: h.cell, Group: h.text(formGroup)}) ||
		!scopeSelects(sc, h.text(formObjOwner), h.has(flagOLocal), store.Label{Cell: h.ocell, Group: h.text(formObjGroup)})) {
		return false, nil
	}
	if h.has(flagLatest) {
		return true, nil
	}
	// Not the latest form of its object: the last in the collection when no later form is in it.
	m.mu.RLock()
	last, known := m.last[h.vid]
	m.mu.RUnlock()
	if known {
		return last, nil
	}
	id, key, spec := h.text(formID), h.text(formVersionKey), h.text(formSpec)
	var later bool
	err := s.rdb.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM id_keys k2 CROSS JOIN object_versions v2 ON v2.vid = k2.vid
		CROSS JOIN collection_objects c2 ON c2.vid = v2.vid AND c2.cid = ?
		WHERE k2.hash = ? AND v2.id = ? AND (v2.version_key > ? OR v2.version_key = ? AND v2.spec_version > ?))`,
		cid, idHash(id), id, key, key, spec).Scan(&later)
	if err != nil {
		return false, fmt.Errorf("sqlite: list: later forms of %s: %w", id, err)
	}
	m.mu.Lock()
	if m.gen == gen {
		if m.last == nil {
			m.last = map[int64]bool{}
		}
		m.last[h.vid] = !later
	}
	m.mu.Unlock()
	return !later, nil
}

// scopeSelects is ReadScope's expression (listQuery.scope) on one label.
func scopeSelects(sc *store.ReadScope, owner string, local bool, l store.Label) bool {
	has := func(mask uint64) bool { return (mask&^(1<<63))>>l.Cell&1 == 1 }
	switch {
	case owner == sc.Org && has(sc.Owner):
		return true
	case len(sc.Groups) > 0 && sc.Group != 0 && slices.Contains(sc.Groups, l.Group) && has(sc.Group):
		return true
	case owner != sc.Org && local && has(sc.LocalOwner):
		return true
	}
	return owner != sc.Org && !local && has(sc.RemoteOwner)
}

// readForms reads forms by vid, for the read cache, and keeps them there if it may.
func (s *Store) readForms(ctx context.Context, vids []int64, gen uint64, out []placed) ([]placed, error) {
	for len(vids) > 0 {
		n := min(len(vids), lookupChunk)
		args := make([]any, lookupChunk)
		for i := range args {
			args[i] = vids[min(i, n-1)] // the unused places repeat the last vid
		}
		rows, err := s.readQuery(ctx, `SELECT v.vid, v.latest, `+versionCols+` FROM object_versions v WHERE v.vid IN (`+inList+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list: %w", err)
		}
		for rows.Next() {
			var (
				v      store.Version
				vid    int64
				latest bool
			)
			if err := scanVersion(rows, &v, &vid, &latest); err != nil {
				rows.Close()
				return nil, fmt.Errorf("sqlite: list: %w", err)
			}
			out = append(out, s.rc.place(&v, vid, latest, gen))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: list: %w", err)
		}
		vids = vids[n:]
	}
	return out, nil
}
