package sqlite

import (
	"cmp"
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
// of prepared statements serve every batch size. The INSERTs are OR ROLLBACK or OR IGNORE, never the
// default OR ABORT: with deferred foreign keys, SQLite then needs no statement journal for them. A
// conflict cannot happen (Write decides every row first); if one did, the whole batch rolls back.
type bulk struct {
	cols  int
	texts [maxBulkLevel + 1]string
}

const maxBulkLevel = 6 // at most 64 rows per statement

func newBulk(head string, cols int) *bulk {
	b := &bulk{cols: cols}
	row := "(" + strings.Repeat("?,", cols-1) + "?)"
	for l := range b.texts {
		b.texts[l] = head + " VALUES " + strings.Repeat(row+",", (1<<l)-1) + row
	}
	return b
}

var (
	insObjects  = newBulk(`INSERT OR ROLLBACK INTO objects (oid, id, type, latest_vid, latest_key, revoked, revoked_key, first_stored)`, 8)
	insVersions = newBulk(`INSERT OR ROLLBACK INTO object_versions (vid, oid, version_key, spec_version, created, modified,
		created_by_ref, revoked, confidence, digest, stored_at, raw)`, 12)
	insMembers       = newBulk(`INSERT OR ROLLBACK INTO collection_objects (cid, vid, date_added)`, 3)
	insRelationships = newBulk(`INSERT OR ROLLBACK INTO relationships (vid, source, type, target, target_hash)`, 5)
	insObservables   = newBulk(`INSERT OR ROLLBACK INTO observables (vid, kind, value, hash)`, 4)
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

// lookupChunk is the number of ids looked up by one query while loading a batch's objects.
const lookupChunk = 64

var (
	selObjects = `SELECT oid, id, latest_vid, latest_key, revoked, revoked_key FROM objects WHERE id IN (` +
		strings.Repeat("?,", lookupChunk-1) + `?)`
	selVersion    = `SELECT vid, digest FROM object_versions WHERE oid = ? AND version_key = ?`
	selMember     = `SELECT date_added FROM collection_objects WHERE vid = ? AND cid = ?`
	updObject     = `UPDATE objects SET latest_vid = ?, latest_key = ?, revoked = ?, revoked_key = ? WHERE oid = ?`
	selLastVid    = `SELECT vid, stored_at FROM object_versions ORDER BY vid DESC LIMIT 1`
	selLastOid    = `SELECT coalesce(max(oid), 0) FROM objects`
	selCollection = `SELECT cid, last_date_added FROM collections WHERE id = ?1 OR alias = ?1 ORDER BY id = ?1 DESC LIMIT 1`
	updCollection = `UPDATE collections SET last_date_added = ? WHERE cid = ?`
)

// objState is what a batch knows of one object: from the database, then updated by the batch.
type objState struct {
	oid        int64
	inDB       bool // the objects row existed before the batch
	changed    bool // the row must be written
	latestVid  int64
	latestKey  string
	revoked    bool
	revokedKey string
	firstStore int64
	versions   []verState // versions met so far: loaded from the database or written by the batch
}

type verState struct {
	key       string
	vid       int64
	digest    [32]byte
	inDB      bool  // stored before the batch
	member    int8  // membership in the batch's collection: 0 unknown, 1 no, 2 yes
	dateAdded int64 // when member == 2
}

func (st *objState) version(key string) *verState {
	for i := range st.versions {
		if st.versions[i].key == key {
			return &st.versions[i]
		}
	}
	return nil
}

// MaxBatchVersions bounds the versions of one batch.
const MaxBatchVersions = 100_000

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
		}
	}
	var (
		out    []store.Outcome
		strict error
	)
	err := s.inTx(ctx, func(w *writer) error {
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

	// Sequences, read once we know something will be stored.
	var lastVid, lastStored, lastOid int64
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
		if st, err = w.stmt(ctx, selLastOid); err != nil {
			return err
		}
		if err := st.QueryRowContext(ctx).Scan(&lastOid); err != nil {
			return fmt.Errorf("read the last object: %w", err)
		}
		return nil
	}

	var (
		verArgs   = make([]any, 0, len(b.Versions)*insVersions.cols)
		memArgs   []any
		rels      []relRow
		obs       []obsRow
		newObjs   []*objState
		newObjIDs []string
		newTypes  []string
	)
	if cid != 0 {
		memArgs = make([]any, 0, len(b.Versions)*insMembers.cols)
	}
	for i := range b.Versions {
		nv := &b.Versions[i]
		obj := nv.Object
		ts := obj.Version()
		key := ts.Key()
		st := states[obj.ID]

		v := st.version(key)
		if v == nil && st.inDB {
			var err error
			if v, err = loadVersion(ctx, w, st, key); err != nil {
				return nil, nil, err
			}
		}
		if v != nil {
			if v.digest != nv.Digest {
				out[i] = store.Outcome{Status: store.StatusRejected, Err: fmt.Errorf(
					"%w: %s version %s is already stored with different content", store.ErrConflict, obj.ID, versionText(ts))}
				continue
			}
			out[i].Status = store.StatusDuplicate
			if cid != 0 {
				if v.member == 0 {
					if err := loadMember(ctx, w, v, cid); err != nil {
						return nil, nil, err
					}
				}
				if v.member == 1 {
					v.member, v.dateAdded = 2, nextAdded()
					memArgs = append(memArgs, cid, v.vid, v.dateAdded)
				}
				out[i].DateAdded = fromMicro(v.dateAdded)
			}
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
		vid := lastVid
		if st.oid == 0 {
			lastOid++
			st.oid, st.firstStore = lastOid, lastStored
			newObjs = append(newObjs, st)
			newObjIDs = append(newObjIDs, obj.ID)
			newTypes = append(newTypes, obj.Type)
		}
		if st.latestVid == 0 || key > st.latestKey {
			st.latestVid, st.latestKey = vid, key
		}
		if obj.Revoked && (!st.revoked || key < st.revokedKey) {
			st.revoked, st.revokedKey = true, key
		}
		st.changed = true
		nv2 := verState{key: key, vid: vid, digest: nv.Digest, member: 1}

		var confidence any
		if obj.Confidence >= 0 {
			confidence = int64(obj.Confidence)
		}
		verArgs = append(verArgs, vid, st.oid, key, obj.SpecVersion, obj.Created.String(), obj.Modified.String(),
			obj.CreatedByRef, obj.Revoked, confidence, nv.Digest[:], lastStored, obj.Raw)
		rels = appendRels(rels, vid, obj)
		obs = appendObs(obs, vid, obj)
		if cid != 0 {
			nv2.member, nv2.dateAdded = 2, nextAdded()
			memArgs = append(memArgs, cid, vid, nv2.dateAdded)
			out[i].DateAdded = fromMicro(nv2.dateAdded)
		}
		st.versions = append(st.versions, nv2)
		out[i].Status = store.StatusAdded
	}

	if b.Strict {
		for _, o := range out {
			if o.Status == store.StatusRejected {
				return out, o.Err, nil
			}
		}
	}

	// Write what was decided: parents before children, for the foreign keys.
	if len(newObjs) > 0 {
		args := make([]any, 0, len(newObjs)*insObjects.cols)
		for i, st := range newObjs {
			args = append(args, st.oid, newObjIDs[i], newTypes[i], st.latestVid, st.latestKey,
				st.revoked, nullKey(st.revoked, st.revokedKey), st.firstStore)
		}
		if err := insObjects.exec(ctx, w, args); err != nil {
			return nil, nil, err
		}
	}
	for _, st := range states {
		if !st.inDB || !st.changed {
			continue
		}
		upd, err := w.stmt(ctx, updObject)
		if err != nil {
			return nil, nil, err
		}
		if _, err := upd.ExecContext(ctx, st.latestVid, st.latestKey, st.revoked, nullKey(st.revoked, st.revokedKey), st.oid); err != nil {
			return nil, nil, fmt.Errorf("update object row %d: %w", st.oid, err)
		}
	}
	if err := insVersions.exec(ctx, w, verArgs); err != nil {
		return nil, nil, err
	}
	if err := insRelationships.exec(ctx, w, relArgsOf(rels)); err != nil {
		return nil, nil, err
	}
	if err := insObservables.exec(ctx, w, obsArgsOf(obs)); err != nil {
		return nil, nil, err
	}
	if len(memArgs) > 0 {
		if err := insMembers.exec(ctx, w, memArgs); err != nil {
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
	return out, nil, nil
}

// loadStates reads the objects rows of every id in the batch. Ids without a row get a new state.
func loadStates(ctx context.Context, w *writer, vs []store.NewVersion) (map[string]*objState, error) {
	states := make(map[string]*objState, len(vs))
	ids := make([]any, 0, lookupChunk)
	flush := func() error {
		if len(ids) == 0 {
			return nil
		}
		for len(ids) < lookupChunk {
			ids = append(ids, ids[0]) // pad: IN ignores repeats
		}
		st, err := w.stmt(ctx, selObjects)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, ids...)
		if err != nil {
			return fmt.Errorf("look up objects: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id         string
				revokedKey sql.NullString
				o          = &objState{inDB: true}
			)
			if err := rows.Scan(&o.oid, &id, &o.latestVid, &o.latestKey, &o.revoked, &revokedKey); err != nil {
				return fmt.Errorf("look up objects: %w", err)
			}
			o.revokedKey = revokedKey.String
			states[id] = o
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("look up objects: %w", err)
		}
		ids = ids[:0]
		return nil
	}
	seen := make(map[string]struct{}, len(vs))
	for _, nv := range vs {
		id := nv.Object.ID
		if _, ok := seen[id]; ok {
			continue
		}
		seen[id] = struct{}{}
		ids = append(ids, id)
		if len(ids) == lookupChunk {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	for id := range seen {
		if states[id] == nil {
			states[id] = &objState{}
		}
	}
	return states, nil
}

// loadVersion looks up a stored version of an existing object; it returns nil when there is none.
func loadVersion(ctx context.Context, w *writer, st *objState, key string) (*verState, error) {
	q, err := w.stmt(ctx, selVersion)
	if err != nil {
		return nil, err
	}
	var (
		vid    int64
		digest []byte
	)
	switch err := q.QueryRowContext(ctx, st.oid, key).Scan(&vid, &digest); {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("look up version: %w", err)
	}
	v := verState{key: key, vid: vid, inDB: true}
	copy(v.digest[:], digest)
	st.versions = append(st.versions, v)
	return &st.versions[len(st.versions)-1], nil
}

// loadMember finds whether a stored version is in the collection.
func loadMember(ctx context.Context, w *writer, v *verState, cid int64) error {
	q, err := w.stmt(ctx, selMember)
	if err != nil {
		return err
	}
	switch err := q.QueryRowContext(ctx, v.vid, cid).Scan(&v.dateAdded); {
	case errors.Is(err, sql.ErrNoRows):
		v.member = 1
	case err != nil:
		return fmt.Errorf("look up collection membership: %w", err)
	default:
		v.member = 2
	}
	return nil
}

func nullKey(revoked bool, key string) any {
	if !revoked {
		return nil
	}
	return key
}

func versionText(ts interface{ String() string }) string {
	if s := ts.String(); s != "" {
		return s
	}
	return "(unversioned)"
}

// relRow is one relationships row; obsRow one observables row.
type (
	relRow struct {
		vid                 int64
		source, typ, target string
		hash                int64
	}
	obsRow struct {
		vid         int64
		kind, value string
		hash        int64
	}
)

// appendRels adds the distinct edges of a version. An edge from the object itself gets the source ”.
func appendRels(rows []relRow, vid int64, obj *stix.Object) []relRow {
	seen := newDedup[relRow](len(obj.Edges))
	for _, e := range obj.Edges {
		r := relRow{vid: vid, source: e.Source, typ: e.Type, target: e.Target, hash: fnv64(e.Target, "", false)}
		if r.source == obj.ID {
			r.source = ""
		}
		if seen.add(rows, r) {
			rows = append(rows, r)
		}
	}
	return rows
}

// appendObs adds the distinct observables of a version.
func appendObs(rows []obsRow, vid int64, obj *stix.Object) []obsRow {
	seen := newDedup[obsRow](len(obj.Observables))
	for _, o := range obj.Observables {
		r := obsRow{vid: vid, kind: o.Kind, value: o.Value, hash: fnv64(o.Kind, o.Value, true)}
		if seen.add(rows, r) {
			rows = append(rows, r)
		}
	}
	return rows
}

// dedup finds repeats among the rows of one version: by a linear search of the few rows appended
// since it was made, or with a map when there are many.
type dedup[T comparable] struct {
	start int
	set   map[T]struct{}
}

func newDedup[T comparable](n int) dedup[T] {
	d := dedup[T]{start: -1}
	if n > 16 {
		d.set = make(map[T]struct{}, n)
	}
	return d
}

// add reports whether r is new, given rows as they are before r is appended.
func (d *dedup[T]) add(rows []T, r T) bool {
	if d.start < 0 {
		d.start = len(rows)
	}
	if d.set != nil {
		if _, ok := d.set[r]; ok {
			return false
		}
		d.set[r] = struct{}{}
		return true
	}
	return !slices.Contains(rows[d.start:], r)
}

// relArgsOf and obsArgsOf flatten rows into INSERT arguments, in the order of their hashed index:
// inserting in index order touches each page of the index once per batch.
func relArgsOf(rows []relRow) []any {
	slices.SortFunc(rows, func(a, b relRow) int { return cmp.Compare(a.hash, b.hash) })
	args := make([]any, 0, len(rows)*insRelationships.cols)
	for _, r := range rows {
		args = append(args, r.vid, r.source, r.typ, r.target, r.hash)
	}
	return args
}

func obsArgsOf(rows []obsRow) []any {
	slices.SortFunc(rows, func(a, b obsRow) int { return cmp.Compare(a.hash, b.hash) })
	args := make([]any, 0, len(rows)*insObservables.cols)
	for _, r := range rows {
		args = append(args, r.vid, r.kind, r.value, r.hash)
	}
	return args
}

// fnv64 is the 64-bit FNV-1a hash of a, then (when two) a NUL byte and b, as a signed integer. It is
// stored in the database: it must never change.
func fnv64(a, b string, two bool) int64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(a); i++ {
		h = (h ^ uint64(a[i])) * prime
	}
	if two {
		h = (h ^ 0) * prime
		for i := 0; i < len(b); i++ {
			h = (h ^ uint64(b[i])) * prime
		}
	}
	return int64(h)
}
