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
// Consistency: every commit, by this process or another, changes SQLite's data_version as seen by
// a connection that did not make it. The cache keeps one read connection for that question and asks
// it before every page; when the answer changed, the generation goes up, which empties the forms
// (their flags and labels may have changed) and makes each collection catch up before its next
// page. A form read from a snapshot older than a generation is never kept under it: a fill is kept
// only if the generation did not move while it was read. A collection counts the statements that
// removed members from it (TAXII DELETE): when the count moved, its members are read again in full.
// The cache is off unless WithReadCache sets a budget.
type readCache struct {
	budget int64 // bytes of forms kept, about

	dvMu   sync.Mutex
	dvConn *sql.Conn
	dvStmt *sql.Stmt // PRAGMA data_version, on dvConn
	dvLast int64
	gen    atomic.Uint64

	shards [cacheShards]formShard

	collMu sync.Mutex
	colls  map[int64]*members
}

const cacheShards = 64

type formShard struct {
	mu    sync.RWMutex
	m     map[int64]*cachedForm
	bytes int64
}

// cachedForm is one form as List reads it, with its latest flag, under the generation it was read
// in. Its texts and raw bytes share one allocation that holds no pointers, so that a cache of a
// million forms is two million small objects for the garbage collector to mark, not twelve million.
type cachedForm struct {
	gen    uint64
	vid    int64
	stored int64  // microseconds
	data   []byte // the raw bytes, then the texts, in the order of the form* constants
	ends   [formTexts]uint32
	rawLen uint32
	digest [sha256.Size]byte
	cell   uint8
	ocell  uint8
	latest bool
	revok  bool
	local  bool // the creator is hosted here
	olocal bool // the object's owner is hosted here
}

// The texts of a cachedForm.
const (
	formID = iota
	formType
	formSpec
	formCreated
	formModified
	formVersionKey
	formCreatedBy
	formGroup
	formObjGroup
	formObjOwner
	formTexts
)

func packForm(v *store.Version, vid int64, latest bool, gen uint64) *cachedForm {
	texts := [formTexts]string{v.ID, v.Type, v.SpecVersion, v.Created, v.Modified, v.VersionKey, v.CreatedByRef,
		v.Label.Group, v.Object.Group, v.Object.Owner}
	n := len(v.Raw)
	for _, t := range texts {
		n += len(t)
	}
	f := &cachedForm{gen: gen, vid: vid, stored: v.Stored.UnixMicro(), data: make([]byte, 0, n), rawLen: uint32(len(v.Raw)),
		digest: v.Digest, cell: v.Label.Cell, ocell: v.Object.Cell, latest: latest, revok: v.Revoked,
		local: v.OwnerLocal, olocal: v.Object.OwnerLocal}
	f.data = append(f.data, v.Raw...)
	for i, t := range texts {
		f.data = append(f.data, t...)
		f.ends[i] = uint32(len(f.data))
	}
	return f
}

// size is what the cache counts for the form against its budget: its bytes and texts, and about
// what the struct and its map entry take.
func (f *cachedForm) size() int64 { return int64(len(f.data)) + 128 }

// text returns the text i, pointing into data, which is never written once packed.
func (f *cachedForm) text(i int) string {
	start := f.rawLen
	if i > 0 {
		start = f.ends[i-1]
	}
	if f.ends[i] == start {
		return ""
	}
	return unsafe.String(&f.data[start], int(f.ends[i]-start))
}

// version unpacks the form. Its Raw shares the cache's bytes (capacity cut, so that an append
// copies): callers must not write into it, as into any Raw a store returns.
func (f *cachedForm) version() store.Version {
	return store.Version{
		ID: f.text(formID), Type: f.text(formType), SpecVersion: f.text(formSpec), Created: f.text(formCreated),
		Modified: f.text(formModified), VersionKey: f.text(formVersionKey), CreatedByRef: f.text(formCreatedBy),
		Revoked: f.revok, Digest: f.digest, Raw: f.data[:f.rawLen:f.rawLen], Stored: fromMicro(f.stored),
		Label: store.Label{Cell: f.cell, Group: f.text(formGroup)}, OwnerLocal: f.local,
		Object: store.ObjectLabel{Label: store.Label{Cell: f.ocell, Group: f.text(formObjGroup)},
			Owner: f.text(formObjOwner), OwnerLocal: f.olocal},
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
	// last answers, for forms of the collection that are not the latest of their object, whether no
	// later form of the object is in the collection (reset with every generation).
	last map[int64]bool
}

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
	for i := range c.shards {
		c.shards[i].m = map[int64]*cachedForm{}
	}
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

// sync returns the current generation, after moving it on if anything was committed since the
// last call.
func (c *readCache) sync(ctx context.Context) (uint64, error) {
	c.dvMu.Lock()
	defer c.dvMu.Unlock()
	dv, err := c.dataVersion(ctx)
	if err != nil {
		return 0, err
	}
	if dv != c.dvLast {
		c.dvLast = dv
		return c.gen.Add(1), nil
	}
	return c.gen.Load(), nil
}

// members returns the collection's members as of generation gen or a later one (a caller that
// synced earlier may use newer members; catching up for it again would go back): a prefix of each
// slice, safe to read without a lock.
func (c *readCache) members(ctx context.Context, rdb *sql.DB, cid int64, gen uint64) (*members, []int64, []int64, error) {
	c.collMu.Lock()
	m := c.colls[cid]
	if m == nil {
		m = &members{}
		c.colls[cid] = m
	}
	c.collMu.Unlock()
	m.mu.RLock()
	if m.gen >= gen {
		dates, vids := m.dates, m.vids
		m.mu.RUnlock()
		return m, dates, vids, nil
	}
	m.mu.RUnlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gen < gen {
		if err := m.catchUp(ctx, rdb, cid); err != nil {
			return nil, nil, nil, err
		}
		m.gen, m.last = gen, nil
	}
	return m, m.dates, m.vids, nil
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
	dates, vids := m.dates, m.vids
	if removals != m.removals {
		dates, vids = nil, nil // new slices: readers may hold the old ones
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
	m.dates, m.vids, m.removals = dates, vids, removals
	return nil
}

// form returns the cached form vid, when it was read in generation gen.
func (c *readCache) form(vid int64, gen uint64) (*cachedForm, bool) {
	sh := &c.shards[uint64(vid)%cacheShards]
	sh.mu.RLock()
	f, ok := sh.m[vid]
	sh.mu.RUnlock()
	if !ok || f.gen != gen {
		return nil, false
	}
	return f, true
}

// keep adds forms read in generation gen, unless the generation has moved on since.
func (c *readCache) keep(fs []*cachedForm, gen uint64) {
	perShard := c.budget / cacheShards
	for _, f := range fs {
		if c.gen.Load() != gen {
			return
		}
		size := f.size()
		sh := &c.shards[uint64(f.vid)%cacheShards]
		sh.mu.Lock()
		if old, ok := sh.m[f.vid]; ok {
			sh.bytes -= old.size()
		}
		// Over the budget, entries go in the map's own (random) order, whatever their generation.
		for k, e := range sh.m {
			if sh.bytes+size <= perShard {
				break
			}
			sh.bytes -= e.size()
			delete(sh.m, k)
		}
		if sh.bytes+size <= perShard {
			sh.m[f.vid] = f
			sh.bytes += size
		}
		sh.mu.Unlock()
	}
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
	m, dates, vids, err := c.members(ctx, s.rdb, cid, gen)
	if err != nil {
		return page, err
	}
	start := after.At
	if !f.AddedAfter.IsZero() {
		start = max(start, f.AddedAfter.UnixMicro())
	}
	i := sort.Search(len(dates), func(i int) bool { return dates[i] > start })
	page.Versions = make([]store.Version, 0, min(limit, 256))
	var (
		forms   []*cachedForm
		missing []int64
		filled  []*cachedForm
	)
	for i < len(dates) {
		// A window of members: as many as the page still needs, and one to tell whether there is more.
		n := min(len(dates)-i, max(limit+1-len(page.Versions), 16))
		forms, missing = forms[:0], missing[:0]
		for _, vid := range vids[i : i+n] {
			fm, ok := c.form(vid, gen)
			if !ok {
				missing = append(missing, vid)
			}
			forms = append(forms, fm)
		}
		if len(missing) > 0 {
			if filled, err = s.readForms(ctx, missing, gen, filled[:0]); err != nil {
				return store.Page{Next: after}, err
			}
			c.keep(filled, gen)
			byVid := make(map[int64]*cachedForm, len(filled))
			for _, fm := range filled {
				byVid[fm.vid] = fm
			}
			for j, fm := range forms {
				if fm == nil {
					forms[j] = byVid[vids[i+j]] // nil: the form is gone
				}
			}
		}
		for j, fm := range forms {
			if fm == nil {
				continue
			}
			v := fm.version()
			ok, err := s.selects(ctx, f, m, cid, gen, fm, &v)
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
			v.DateAdded = fromMicro(dates[i+j])
			page.Versions = append(page.Versions, v)
			page.Next = store.Cursor{At: dates[i+j], Seq: fm.vid}
		}
		i += n
	}
	return page, nil
}

// selects says whether the query for f selects the cached form fm of collection cid.
func (s *Store) selects(ctx context.Context, f store.Filter, m *members, cid int64, gen uint64, fm *cachedForm, v *store.Version) (bool, error) {
	if len(f.Types) > 0 && !slices.Contains(f.Types, v.Type) {
		return false, nil
	}
	if sc := f.Scope; sc != nil && (!scopeSelects(sc, v.CreatedByRef, v.OwnerLocal, v.Label) ||
		!scopeSelects(sc, v.Object.Owner, v.Object.OwnerLocal, v.Object.Label)) {
		return false, nil
	}
	if fm.latest {
		return true, nil
	}
	// Not the latest form of its object: the last in the collection when no later form is in it.
	m.mu.RLock()
	last, known := m.last[fm.vid]
	m.mu.RUnlock()
	if known {
		return last, nil
	}
	var later bool
	err := s.rdb.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM id_keys k2 CROSS JOIN object_versions v2 ON v2.vid = k2.vid
		CROSS JOIN collection_objects c2 ON c2.vid = v2.vid AND c2.cid = ?
		WHERE k2.hash = ? AND v2.id = ? AND (v2.version_key > ? OR v2.version_key = ? AND v2.spec_version > ?))`,
		cid, idHash(v.ID), v.ID, v.VersionKey, v.VersionKey, v.SpecVersion).Scan(&later)
	if err != nil {
		return false, fmt.Errorf("sqlite: list: later forms of %s: %w", v.ID, err)
	}
	m.mu.Lock()
	if m.gen == gen {
		if m.last == nil {
			m.last = map[int64]bool{}
		}
		m.last[fm.vid] = !later
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

// readForms reads forms by vid, for the read cache.
func (s *Store) readForms(ctx context.Context, vids []int64, gen uint64, out []*cachedForm) ([]*cachedForm, error) {
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
			out = append(out, packForm(&v, vid, latest, gen))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("sqlite: list: %w", err)
		}
		vids = vids[n:]
	}
	return out, nil
}
