package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// bulk is a multi-row INSERT. Rows go in statements of 1, 2, 4 … 1<<maxBulkLevel rows, so a handful
// of prepared statements serve every batch size. The INSERTs are OR ROLLBACK, never the default OR
// ABORT: SQLite then needs no statement journal for them. A conflict cannot happen (Write decides
// every row first); if one did, the whole batch would roll back.
type bulk struct {
	cols  int
	texts [maxBulkLevel + 1]string
}

const maxBulkLevel = 7 // at most 128 rows per statement

func newBulk(head string, cols int) *bulk {
	b := &bulk{cols: cols}
	row := "(" + strings.Repeat("?,", cols-1) + "?)"
	for l := range b.texts {
		b.texts[l] = head + " VALUES " + strings.Repeat(row+",", (1<<l)-1) + row
	}
	return b
}

var (
	insVersions = newBulk(`INSERT OR ROLLBACK INTO object_versions (vid, id_hash, latest, spec_latest, revoked, version_key,
		id, type, spec_version, created, modified, created_by_ref, confidence, digest, stored_at, edges, observables,
		cell, grp, obj_cell, obj_grp, obj_owner, raw)`, 23)
	insIDKeys   = newBulk(`INSERT OR ROLLBACK INTO id_keys (hash, vid)`, 2)
	insEdgeKeys = newBulk(`INSERT OR ROLLBACK INTO edge_keys (hash, ref)`, 2)
	insObsKeys  = newBulk(`INSERT OR ROLLBACK INTO observable_keys (hash, ref)`, 2)
	insMembers  = newBulk(`INSERT OR ROLLBACK INTO collection_objects (cid, date_added, vid)`, 3)
	insPending  = newBulk(`INSERT OR IGNORE INTO label_pending (marking, vid)`, 2)
)

// exec inserts the rows held in args (cols values per row).
func (b *bulk) exec(ctx context.Context, w *writer, args []any) error {
	for len(args) > 0 {
		rows := len(args) / b.cols
		level := min(bits.Len(uint(rows))-1, maxBulkLevel)
		n := (1 << level) * b.cols
		st, err := w.stmt(ctx, b.texts[level])
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, args[:n]...); err != nil {
			return fmt.Errorf("%s: %w", firstLine(b.texts[0]), err)
		}
		args = args[n:]
	}
	return nil
}

// insertKeys sorts keys and inserts them: in key order, a batch's inserts walk each table once.
func insertKeys(ctx context.Context, w *writer, b *bulk, keys []key) error {
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, compareKeys)
	args := make([]any, 0, 2*min(len(keys), 1<<maxBulkLevel))
	for len(keys) > 0 {
		n := min(len(keys), 1<<maxBulkLevel)
		args = args[:0]
		for _, k := range keys[:n] {
			args = append(args, k.hash, k.ref)
		}
		if err := b.exec(ctx, w, args); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// lookupChunk is the number of values looked up by one query with IN.
const lookupChunk = 64

// inList is "?,?,…" with lookupChunk parameters.
var inList = strings.Repeat("?,", lookupChunk-1) + "?"

var (
	selVersions = `SELECT v.vid, v.id, v.version_key, v.spec_version, v.revoked, v.latest, v.spec_latest, v.digest, v.created_by_ref,
		v.cell, v.grp FROM id_keys k CROSS JOIN object_versions v ON v.vid = k.vid WHERE k.hash IN (` + inList + `)`
	selMembers    = `SELECT vid, date_added FROM collection_objects WHERE vid IN (` + inList + `) AND cid = ?`
	updNotLatest  = `UPDATE object_versions SET latest = 0 WHERE vid IN (` + inList + `)`
	updNotSpecTop = `UPDATE object_versions SET spec_latest = 0 WHERE vid IN (` + inList + `)`
	selLastVid    = `SELECT vid, stored_at FROM object_versions ORDER BY vid DESC LIMIT 1`
	selCollection = `SELECT cid, last_date_added FROM collections WHERE id = ?1 OR alias = ?1 ORDER BY id = ?1 DESC LIMIT 1`
	updCollection = `UPDATE collections SET last_date_added = ? WHERE cid = ?`
	updCounts     = `INSERT INTO object_counts (type, objects, revoked) VALUES (?, ?, ?)
		ON CONFLICT (type) DO UPDATE SET objects = objects + excluded.objects, revoked = revoked + excluded.revoked`
)

// inChunks runs a query with IN (lookupChunk parameters) over vals, lookupChunk at a time, the last
// chunk padded with repeats (which IN ignores); tail are further arguments after the list.
func inChunks[T any](vals []T, fn func(args []any) error, tail ...any) error {
	args := make([]any, 0, lookupChunk+len(tail))
	for len(vals) > 0 {
		n := min(len(vals), lookupChunk)
		args = args[:0]
		for _, v := range vals[:n] {
			args = append(args, v)
		}
		for len(args) < lookupChunk {
			args = append(args, args[0])
		}
		args = append(args, tail...)
		if err := fn(args); err != nil {
			return err
		}
		vals = vals[n:]
	}
	return nil
}

// objState is what a batch knows of one object: its stored forms, then those the batch adds. A form
// is identified by (version key, spec version): the same version may be stored as STIX 2.0 and 2.1.
type objState struct {
	typ        string
	hash       int64      // idHash of the id
	versions   []verState // starts in first: most objects have one form
	latest     int        // index in versions of the latest form; -1 when there is none
	dbLatest   int64      // vid of the stored form marked latest before the batch; 0 when none
	revoked    bool
	revokedKey string // the earliest revoked version's key
	// creators are the distinct created_by_ref values of the stored forms and of those the batch adds
	// ("" for none); almost always one.
	creators []string
	first    [1]verState
}

// addCreator records the creator of a form.
func (st *objState) addCreator(c string) {
	if !slices.Contains(st.creators, c) {
		st.creators = append(st.creators, c)
	}
}

type verState struct {
	key       string
	spec      string
	vid       int64
	digest    [32]byte
	inDB      bool // stored before the batch
	label     store.Label
	creator   string
	specTop   bool  // the form of its version key with the greatest spec version (spec_latest)
	member    int8  // membership in the batch's collection: 0 unknown, 1 no, 2 yes
	dateAdded int64 // when member == 2
}

// above reports whether the form (key, spec) ranks above v: a later version, or the same version in
// a later spec version. The latest form of an object ranks above all its others.
func (v *verState) above(key, spec string) bool {
	return key > v.key || key == v.key && spec > v.spec
}

func (st *objState) version(key, spec string) *verState {
	for i := range st.versions {
		if v := &st.versions[i]; v.key == key && v.spec == spec {
			return v
		}
	}
	return nil
}

// add records a form, keeping latest and the revocation up to date.
func (st *objState) add(v verState, revoked bool) {
	st.versions = append(st.versions, v)
	if st.latest < 0 || st.versions[st.latest].above(v.key, v.spec) {
		st.latest = len(st.versions) - 1
	}
	if revoked && (!st.revoked || v.key < st.revokedKey) {
		st.revoked, st.revokedKey = true, v.key
	}
}

// addNew records a form the batch stores, and decides which form of its version key is the
// greatest spec version. It returns the vid of a stored form that no longer is (0 when none).
func (st *objState) addNew(v verState, revoked bool) (demoted int64) {
	v.specTop = true
	for i := range st.versions {
		w := &st.versions[i]
		if w.key != v.key || !w.specTop {
			continue
		}
		// w is the top form of the key so far; there is one at most.
		if w.spec > v.spec {
			v.specTop = false
		} else {
			w.specTop = false
			if w.inDB {
				demoted = w.vid
			}
		}
		break
	}
	st.add(v, revoked)
	return demoted
}

// newRow is a form the batch stores.
type newRow struct {
	nv    *store.NewVersion
	st    *objState
	idx   int // its index in st.versions
	vid   int64
	key   string
	saved int64 // stored_at
}

// MaxBatchVersions bounds the versions of one batch.
const MaxBatchVersions = store.MaxBatchVersions

// Write stores a batch in one transaction. See store.Objects.
func (s *Store) Write(ctx context.Context, b store.Batch) ([]store.Outcome, error) {
	if len(b.Versions) > MaxBatchVersions {
		return nil, fmt.Errorf("sqlite: write: a batch of %d versions is more than the limit of %d", len(b.Versions), MaxBatchVersions)
	}
	for i, nv := range b.Versions {
		switch o := nv.Object; {
		case o == nil:
			return nil, fmt.Errorf("sqlite: write: version %d of the batch has no object", i)
		case o.ID == "" || o.Type == "" || len(o.Raw) == 0:
			return nil, fmt.Errorf("sqlite: write: version %d of the batch (%q) lacks an id, a type or its bytes", i, o.ID)
		case len(o.Edges) > maxRefs || len(o.Observables) > maxRefs:
			return nil, fmt.Errorf("sqlite: write: version %d of the batch (%s) has %d edges and %d observables, more than the limit of %d",
				i, o.ID, len(o.Edges), len(o.Observables), maxRefs)
		}
	}
	var (
		out    []store.Outcome
		strict error
	)
	err := s.rawTx(ctx, func(w *writer) error {
		var err error
		out, strict, err = s.write(ctx, w, b)
		if err == nil {
			err = strict // rolls the transaction back
		}
		return err
	})
	switch {
	case strict != nil:
		// A strict batch with a rejection: nothing is stored and every outcome says what would have
		// happened (without date_added, since nothing was added).
		for i := range out {
			out[i].DateAdded = time.Time{}
		}
		return out, fmt.Errorf("sqlite: strict batch of %d versions: nothing stored: %w", len(b.Versions), strict)
	case err != nil:
		return nil, fmt.Errorf("sqlite: write batch of %d versions: %w", len(b.Versions), err)
	}
	return out, nil
}

// write decides and stores a batch. With a strict batch that has a rejection, it stores nothing and
// returns the first rejection as strict.
func (s *Store) write(ctx context.Context, w *writer, b store.Batch) (out []store.Outcome, strict, err error) {
	out = make([]store.Outcome, len(b.Versions))
	now := micro(s.now())

	var cid, lastAdded int64
	if b.Collection != "" {
		st, err := w.stmt(ctx, selCollection)
		if err != nil {
			return nil, nil, err
		}
		if err := st.QueryRowContext(ctx, b.Collection).Scan(&cid, &lastAdded); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil, nil, fmt.Errorf("collection %q: %w", b.Collection, store.ErrNotFound)
			}
			return nil, nil, fmt.Errorf("find collection %q: %w", b.Collection, err)
		}
	}
	nextAdded := func() int64 {
		lastAdded = max(now, lastAdded+1)
		return lastAdded
	}

	states, err := loadStates(ctx, w, b.Versions)
	if err != nil {
		return nil, nil, err
	}
	if cid != 0 {
		if err := loadMembers(ctx, w, b.Versions, states, cid); err != nil {
			return nil, nil, err
		}
	}

	// The sequence, read once we know something will be stored.
	var lastVid, lastStored int64
	seqRead := false
	readSeq := func() error {
		if seqRead {
			return nil
		}
		seqRead = true
		st, err := w.stmt(ctx, selLastVid)
		if err != nil {
			return err
		}
		if err := st.QueryRowContext(ctx).Scan(&lastVid, &lastStored); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read the last version: %w", err)
		}
		return nil
	}

	var (
		rows    = make([]newRow, 0, len(b.Versions))
		members []int64 // cid, date_added, vid of each new membership
		counts  = map[string]*[2]int64{}
		demoted []int64 // stored forms no longer the greatest spec version of their version key
	)
	for i := range b.Versions {
		nv := &b.Versions[i]
		obj := nv.Object
		ts := obj.Version()
		key := ts.Key()
		st := states[obj.ID]

		if v := st.version(key, obj.SpecVersion); v != nil {
			if v.digest != nv.Digest {
				out[i] = store.Outcome{Status: store.StatusRejected, Err: fmt.Errorf(
					"%w: %s version %s (STIX %s) is already stored with different content", store.ErrConflict,
					obj.ID, versionText(ts), obj.SpecVersion)}
				continue
			}
			out[i].Status = store.StatusDuplicate
			if cid != 0 {
				if v.member == 1 {
					v.member, v.dateAdded = 2, nextAdded()
					members = append(members, cid, v.dateAdded, v.vid)
				}
				out[i].DateAdded = fromMicro(v.dateAdded)
			}
			continue
		}
		if b.Owner != "" && !ownerMayWrite(b.Owner, obj, st) {
			out[i] = store.Outcome{Status: store.StatusRejected, Err: fmt.Errorf(
				"%w: only the organisation that created %s may add a version of it, and %s is not it",
				store.ErrForbidden, obj.ID, b.Owner)}
			continue
		}
		if st.revoked && key > st.revokedKey {
			out[i] = store.Outcome{Status: store.StatusRejected, Err: fmt.Errorf(
				"%w: %s was revoked in version %s, and version %s is later", store.ErrRevoked, obj.ID,
				st.revokedKey, versionText(ts))}
			continue
		}

		// A new version.
		if err := readSeq(); err != nil {
			return nil, nil, err
		}
		lastVid++
		lastStored = max(now, lastStored+1)
		if len(st.versions) == 0 || obj.Revoked && !st.revoked {
			c := counts[st.typ]
			if c == nil {
				c = new([2]int64)
				counts[st.typ] = c
			}
			if len(st.versions) == 0 {
				c[0]++
			}
			if obj.Revoked && !st.revoked {
				c[1]++
			}
		}
		v := verState{key: key, spec: obj.SpecVersion, vid: lastVid, digest: nv.Digest, member: 1, creator: obj.CreatedByRef}
		if cid != 0 {
			v.member, v.dateAdded = 2, nextAdded()
			members = append(members, cid, v.dateAdded, v.vid)
			out[i].DateAdded = fromMicro(v.dateAdded)
		}
		st.addCreator(obj.CreatedByRef)
		if d := st.addNew(v, obj.Revoked); d != 0 {
			demoted = append(demoted, d)
		}
		rows = append(rows, newRow{nv: nv, st: st, idx: len(st.versions) - 1, vid: lastVid, key: key, saved: lastStored})
		out[i].Status = store.StatusAdded
	}

	if b.Strict {
		for _, o := range out {
			if o.Status == store.StatusRejected {
				return out, o.Err, nil
			}
		}
	}
	dir, pending := s.labelRows(ctx, w, rows)
	if err := insertRows(ctx, w, rows); err != nil {
		return nil, nil, err
	}

	// Forms that were the latest of their object and no longer are; the object's stored forms take
	// the new latest form's label as their object label.
	var superseded []int64
	for _, st := range states {
		if st.dbLatest != 0 && st.versions[st.latest].vid != st.dbLatest {
			superseded = append(superseded, st.dbLatest)
			if err := setObjectLabel(ctx, w, st); err != nil {
				return nil, nil, err
			}
		}
	}
	if err := s.resolvePending(ctx, w, dir, pending); err != nil {
		return nil, nil, err
	}
	if err := updateFlags(ctx, w, updNotLatest, superseded); err != nil {
		return nil, nil, fmt.Errorf("move the latest version: %w", err)
	}
	if err := updateFlags(ctx, w, updNotSpecTop, demoted); err != nil {
		return nil, nil, fmt.Errorf("move the latest spec version: %w", err)
	}

	if len(members) > 0 {
		args := make([]any, len(members))
		for i, m := range members {
			args[i] = m
		}
		if err := insMembers.exec(ctx, w, args); err != nil {
			return nil, nil, err
		}
		upd, err := w.stmt(ctx, updCollection)
		if err != nil {
			return nil, nil, err
		}
		if _, err := upd.ExecContext(ctx, lastAdded, cid); err != nil {
			return nil, nil, fmt.Errorf("update collection %q: %w", b.Collection, err)
		}
	}
	if len(counts) > 0 {
		upd, err := w.stmt(ctx, updCounts)
		if err != nil {
			return nil, nil, err
		}
		for typ, c := range counts {
			if _, err := upd.ExecContext(ctx, typ, c[0], c[1]); err != nil {
				return nil, nil, fmt.Errorf("count objects of type %s: %w", typ, err)
			}
		}
	}
	return out, nil, nil
}

// updateFlags clears a flag on the rows vids with upd, one of the UPDATE … WHERE vid IN statements.
func updateFlags(ctx context.Context, w *writer, upd string, vids []int64) error {
	if len(vids) == 0 {
		return nil
	}
	slices.Sort(vids)
	st, err := w.stmt(ctx, upd)
	if err != nil {
		return err
	}
	return inChunks(vids, func(args []any) error {
		_, err := st.ExecContext(ctx, args...)
		return err
	})
}

// insertRows inserts the new forms, in vid order, and their keys.
func insertRows(ctx context.Context, w *writer, rows []newRow) error {
	if len(rows) == 0 {
		return nil
	}
	var (
		idKeys   = make([]key, 0, len(rows))
		edgeKeys []key
		obsKeys  []key
		args     = make([]any, 0, min(len(rows), 1<<maxBulkLevel)*insVersions.cols)
	)
	flush := func() error {
		err := insVersions.exec(ctx, w, args)
		args = args[:0]
		return err
	}
	for i := range rows {
		r := &rows[i]
		obj := r.nv.Object
		h := r.st.hash
		idKeys = append(idKeys, key{h, r.vid})
		edges := graphEdges(obj)
		edgeKeys = appendEdgeKeys(edgeKeys, r.vid, edges)
		obs := distinctObservables(obj)
		obsKeys = appendObsKeys(obsKeys, r.vid, obs)
		var confidence any
		if obj.Confidence >= 0 {
			confidence = int64(obj.Confidence)
		}
		top := &r.st.versions[r.st.latest]
		own := &r.st.versions[r.idx]
		args = append(args, r.vid, h, top.vid == r.vid, own.specTop, obj.Revoked, r.key, obj.ID, obj.Type, obj.SpecVersion,
			obj.Created.String(), obj.Modified.String(), obj.CreatedByRef, confidence, r.nv.Digest[:], r.saved,
			nullBlob(encodeEdges(edges)), nullBlob(encodeObservables(obs)),
			own.label.Cell, own.label.Group, top.label.Cell, top.label.Group, top.creator, obj.Raw)
		if len(args) == cap(args) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := insertKeys(ctx, w, insIDKeys, idKeys); err != nil {
		return err
	}
	if err := insertKeys(ctx, w, insEdgeKeys, edgeKeys); err != nil {
		return err
	}
	if err := insertKeys(ctx, w, insObsKeys, obsKeys); err != nil {
		return err
	}
	return noteBlockLengths(ctx, w, rows) // block_lengths.go
}

// nullBlob gives NULL for an empty blob.
func nullBlob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// loadStates reads every stored version of every id in the batch. Ids without one get an empty state.
func loadStates(ctx context.Context, w *writer, vs []store.NewVersion) (map[string]*objState, error) {
	states := make(map[string]*objState, len(vs))
	hashes := make([]int64, 0, len(vs))
	pool := make([]objState, 0, len(vs))
	for _, nv := range vs {
		id := nv.Object.ID
		if states[id] == nil {
			pool = append(pool, objState{typ: nv.Object.Type, hash: idHash(id), latest: -1})
			st := &pool[len(pool)-1]
			st.versions = st.first[:0]
			states[id] = st
			hashes = append(hashes, st.hash)
		}
	}
	// In hash order, each query reads one stretch of id_keys.
	slices.Sort(hashes)
	hashes = slices.Compact(hashes)
	q, err := w.stmt(ctx, selVersions)
	if err != nil {
		return nil, err
	}
	err = inChunks(hashes, func(args []any) error {
		rows, err := q.QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				v       verState
				id      string
				revoked bool
				latest  bool
				digest  []byte
				creator string
			)
			if err := rows.Scan(&v.vid, &id, &v.key, &v.spec, &revoked, &latest, &v.specTop, &digest, &creator,
				&v.label.Cell, &v.label.Group); err != nil {
				return err
			}
			st := states[id]
			if st == nil {
				continue // another id with the same hash
			}
			if st.version(v.key, v.spec) != nil {
				// The same id twice in one chunk (the padding repeats a hash).
				continue
			}
			v.inDB, v.creator = true, creator
			copy(v.digest[:], digest)
			st.add(v, revoked)
			st.addCreator(creator)
			if latest {
				st.dbLatest = v.vid
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("look up stored versions: %w", err)
	}
	return states, nil
}

// loadMembers finds which of the stored versions the batch names are in the collection.
func loadMembers(ctx context.Context, w *writer, vs []store.NewVersion, states map[string]*objState, cid int64) error {
	var (
		vids  []int64
		byVid = map[int64]*verState{}
	)
	for _, nv := range vs {
		v := states[nv.Object.ID].version(nv.Object.Version().Key(), nv.Object.SpecVersion)
		if v == nil || v.member != 0 {
			continue
		}
		v.member = 1
		vids = append(vids, v.vid)
		byVid[v.vid] = v
	}
	if len(vids) == 0 {
		return nil
	}
	// byVid holds pointers into the states' version slices: nothing may append to them until the
	// decisions, which follow.
	slices.Sort(vids)
	q, err := w.stmt(ctx, selMembers)
	if err != nil {
		return err
	}
	err = inChunks(vids, func(args []any) error {
		rows, err := q.QueryContext(ctx, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var vid, added int64
			if err := rows.Scan(&vid, &added); err != nil {
				return err
			}
			if v := byVid[vid]; v != nil {
				v.member, v.dateAdded = 2, added
			}
		}
		return rows.Err()
	}, cid)
	if err != nil {
		return fmt.Errorf("look up collection membership: %w", err)
	}
	return nil
}

func versionText(ts stix.Timestamp) string {
	if s := ts.String(); s != "" {
		return s
	}
	return "(unversioned)"
}

// ownerMayWrite decides whether a batch written on behalf of organisation owner may add this new form
// of obj: the form must name owner as its creator, and every form already stored (or added earlier in
// the batch) must have been created by owner too. A new SCO without created_by_ref is accepted: SCOs
// are shared facts with a single version, which nobody can later change. The refusal is the same
// whether or not the object existed, so it says nothing about objects the writer may not see.
func ownerMayWrite(owner string, obj *stix.Object, st *objState) bool {
	for _, c := range st.creators {
		if c != owner {
			return false
		}
	}
	if obj.CreatedByRef == "" {
		return obj.Kind == stix.KindSCO && len(st.versions) == 0
	}
	return obj.CreatedByRef == owner
}
