package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// MaxPageSize bounds the versions List returns at once; a larger limit is lowered to it.
const MaxPageSize = 10000

// scanPageSize is the number of versions Scan reads per query. No connection is held between pages.
const scanPageSize = 1000

// versionCols are the columns scanVersion reads, in order.
const versionCols = `o.id, o.type, v.spec_version, v.created, v.modified, v.version_key, v.created_by_ref,
	v.revoked, v.digest, v.stored_at, v.raw`

type rowScanner interface {
	Scan(dest ...any) error
}

// scanVersion reads versionCols, after the leading destinations in pre.
func scanVersion(r rowScanner, v *store.Version, pre ...any) error {
	var (
		digest []byte
		stored int64
	)
	dest := append(pre, &v.ID, &v.Type, &v.SpecVersion, &v.Created, &v.Modified, &v.VersionKey,
		&v.CreatedByRef, &v.Revoked, &digest, &stored, &v.Raw)
	if err := r.Scan(dest...); err != nil {
		return err
	}
	if len(digest) != len(v.Digest) {
		return fmt.Errorf("version %s %s: digest of %d bytes", v.ID, v.VersionKey, len(digest))
	}
	copy(v.Digest[:], digest)
	v.Stored = fromMicro(stored)
	return nil
}

// Versions returns every stored version of id, oldest first.
func (s *Store) Versions(ctx context.Context, id string) ([]store.Version, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+versionCols+`
		FROM objects o JOIN object_versions v ON v.oid = o.oid
		WHERE o.id = ? ORDER BY v.version_key`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: versions of %s: %w", id, err)
	}
	defer rows.Close()
	var vs []store.Version
	for rows.Next() {
		var v store.Version
		if err := scanVersion(rows, &v); err != nil {
			return nil, fmt.Errorf("sqlite: versions of %s: %w", id, err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: versions of %s: %w", id, err)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("sqlite: object %s: %w", id, store.ErrNotFound)
	}
	return vs, nil
}

// listQuery is a Filter turned into SQL conditions, without the cursor and the limit.
type listQuery struct {
	ids   bool     // the filter names ids: the query starts from them
	coll  bool     // collection scope
	cid   int64    // the collection's row id
	where []string // conditions, ANDed
	args  []any    // their arguments, in order
	none  bool     // the filter matches nothing
}

func (q *listQuery) cond(c string, args ...any) {
	q.where = append(q.where, c)
	q.args = append(q.args, args...)
}

func (q *listQuery) in(col string, vals []string) {
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	q.cond(col+" IN ("+strings.Repeat("?,", len(vals)-1)+"?)", args...)
}

// MaxFilterValues bounds the values of one Filter field.
const MaxFilterValues = 1000

// buildList checks a filter and turns it into SQL conditions.
func (s *Store) buildList(ctx context.Context, f store.Filter) (*listQuery, error) {
	q := &listQuery{}
	for name, n := range map[string]int{"ids": len(f.IDs), "types": len(f.Types),
		"spec versions": len(f.SpecVersions), "version keys": len(f.Versions.Keys)} {
		if n > MaxFilterValues {
			return nil, fmt.Errorf("sqlite: filter has %d %s, more than the limit of %d", n, name, MaxFilterValues)
		}
	}
	if f.Collection != "" {
		err := s.rdb.QueryRowContext(ctx, `SELECT cid FROM collections WHERE id = ?1 OR alias = ?1
			ORDER BY id = ?1 DESC LIMIT 1`, f.Collection).Scan(&q.cid)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("sqlite: collection %q: %w", f.Collection, store.ErrNotFound)
		} else if err != nil {
			return nil, fmt.Errorf("sqlite: find collection %q: %w", f.Collection, err)
		}
		q.coll = true
	}
	if !f.AddedAfter.IsZero() {
		if q.coll {
			q.cond("c.date_added > ?", f.AddedAfter.UnixMicro())
		} else {
			q.cond("v.stored_at > ?", f.AddedAfter.UnixMicro())
		}
	}
	if len(f.IDs) > 0 {
		q.ids = true
		q.in("o.id", f.IDs)
	}
	if len(f.Types) > 0 {
		q.in("o.type", f.Types)
	}
	if len(f.SpecVersions) > 0 {
		q.in("v.spec_version", f.SpecVersions)
	}
	switch f.Versions.Kind {
	case store.VersionsLast:
		if q.coll {
			q.cond(`NOT EXISTS (SELECT 1 FROM object_versions v2 JOIN collection_objects c2 ON c2.vid = v2.vid
				WHERE v2.oid = v.oid AND v2.version_key > v.version_key AND c2.cid = c.cid)`)
		} else {
			q.cond("o.latest_vid = v.vid")
		}
	case store.VersionsFirst:
		if q.coll {
			q.cond(`NOT EXISTS (SELECT 1 FROM object_versions v2 JOIN collection_objects c2 ON c2.vid = v2.vid
				WHERE v2.oid = v.oid AND v2.version_key < v.version_key AND c2.cid = c.cid)`)
		} else {
			q.cond(`NOT EXISTS (SELECT 1 FROM object_versions v2 WHERE v2.oid = v.oid AND v2.version_key < v.version_key)`)
		}
	case store.VersionsAll:
	case store.VersionsKeys:
		if len(f.Versions.Keys) == 0 {
			q.none = true
		} else {
			q.in("v.version_key", f.Versions.Keys)
		}
	default:
		return nil, fmt.Errorf("sqlite: unknown version match kind %d", f.Versions.Kind)
	}
	return q, nil
}

// sql returns the text and arguments of the query for one page after the cursor.
func (q *listQuery) sql(after store.Cursor, limit int) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, len(q.args)+5)
	// With ids, the query starts from them (CROSS JOIN fixes SQLite's join order) and sorts the few
	// versions found; else it walks the collection's or the store's order and filters.
	switch {
	case q.coll && q.ids:
		b.WriteString(`SELECT c.date_added, c.seq, ` + versionCols + `
			FROM objects o CROSS JOIN object_versions v CROSS JOIN collection_objects c
			WHERE v.oid = o.oid AND c.vid = v.vid AND c.cid = ?
			AND c.date_added >= ? AND (c.date_added > ? OR c.seq > ?)`)
		args = append(args, q.cid, after.At, after.At, after.Seq)
	case q.coll:
		b.WriteString(`SELECT c.date_added, c.seq, ` + versionCols + `
			FROM collection_objects c
			JOIN object_versions v ON v.vid = c.vid
			JOIN objects o ON o.oid = v.oid
			WHERE c.cid = ? AND c.date_added >= ? AND (c.date_added > ? OR c.seq > ?)`)
		args = append(args, q.cid, after.At, after.At, after.Seq)
	case q.ids:
		b.WriteString(`SELECT v.stored_at, v.vid, ` + versionCols + `
			FROM objects o CROSS JOIN object_versions v
			WHERE v.oid = o.oid AND v.vid > ?`)
		args = append(args, after.Seq)
	default:
		b.WriteString(`SELECT v.stored_at, v.vid, ` + versionCols + `
			FROM object_versions v
			JOIN objects o ON o.oid = v.oid
			WHERE v.vid > ?`)
		args = append(args, after.Seq)
	}
	for _, c := range q.where {
		b.WriteString(" AND ")
		b.WriteString(c)
	}
	args = append(args, q.args...)
	if q.coll {
		b.WriteString(" ORDER BY c.date_added, c.seq LIMIT ?")
	} else {
		b.WriteString(" ORDER BY v.vid LIMIT ?")
	}
	return b.String(), append(args, limit+1)
}

// page runs the query for one page after the cursor.
func (s *Store) page(ctx context.Context, q *listQuery, after store.Cursor, limit int) (store.Page, error) {
	page := store.Page{Next: after}
	if q.none {
		return page, nil
	}
	query, args := q.sql(after, limit)
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return page, fmt.Errorf("sqlite: list: %w", err)
	}
	defer rows.Close()
	page.Versions = make([]store.Version, 0, min(limit, 256))
	for rows.Next() {
		if len(page.Versions) == limit {
			page.More = true
			break
		}
		var (
			v   store.Version
			cur store.Cursor
		)
		if err := scanVersion(rows, &v, &cur.At, &cur.Seq); err != nil {
			return store.Page{Next: after}, fmt.Errorf("sqlite: list: %w", err)
		}
		if q.coll {
			v.DateAdded = fromMicro(cur.At)
		}
		page.Versions = append(page.Versions, v)
		page.Next = cur
	}
	if err := rows.Err(); err != nil {
		return store.Page{Next: after}, fmt.Errorf("sqlite: list: %w", err)
	}
	return page, nil
}

// List returns up to limit versions matching f after the cursor. See store.Objects.
func (s *Store) List(ctx context.Context, f store.Filter, after store.Cursor, limit int) (store.Page, error) {
	if limit <= 0 {
		return store.Page{}, fmt.Errorf("sqlite: list: limit %d: must be positive", limit)
	}
	q, err := s.buildList(ctx, f)
	if err != nil {
		return store.Page{}, err
	}
	return s.page(ctx, q, after, min(limit, MaxPageSize))
}

// Scan streams every version matching f, in List's order, one page per query.
func (s *Store) Scan(ctx context.Context, f store.Filter) iter.Seq2[store.Version, error] {
	return func(yield func(store.Version, error) bool) {
		q, err := s.buildList(ctx, f)
		if err != nil {
			yield(store.Version{}, err)
			return
		}
		var after store.Cursor
		for {
			page, err := s.page(ctx, q, after, scanPageSize)
			if err != nil {
				yield(store.Version{}, err)
				return
			}
			for _, v := range page.Versions {
				if !yield(v, nil) {
					return
				}
			}
			if !page.More {
				return
			}
			after = page.Next
		}
	}
}

// Related returns the edges from or to id among the latest versions of objects.
func (s *Store) Related(ctx context.Context, id string) ([]stix.Edge, error) {
	rows, err := s.rdb.QueryContext(ctx, `
		SELECT ?1, r.target, r.type FROM objects o CROSS JOIN relationships r
		WHERE o.id = ?1 AND r.vid = o.latest_vid AND r.source = ''
		UNION
		SELECT r.source, r.target, r.type FROM relationships r
		JOIN object_versions v ON v.vid = r.vid JOIN objects o ON o.oid = v.oid
		WHERE r.source = ?1 AND r.source != '' AND o.latest_vid = r.vid
		UNION
		SELECT CASE r.source WHEN '' THEN o.id ELSE r.source END, r.target, r.type FROM relationships r
		JOIN object_versions v ON v.vid = r.vid JOIN objects o ON o.oid = v.oid
		WHERE r.target_hash = ?2 AND r.target = ?1 AND o.latest_vid = r.vid
		ORDER BY 1, 3, 2`, id, fnv64(id, "", false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: related to %s: %w", id, err)
	}
	defer rows.Close()
	var edges []stix.Edge
	for rows.Next() {
		var e stix.Edge
		if err := rows.Scan(&e.Source, &e.Target, &e.Type); err != nil {
			return nil, fmt.Errorf("sqlite: related to %s: %w", id, err)
		}
		edges = append(edges, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: related to %s: %w", id, err)
	}
	return edges, nil
}

// FindObservable returns the ids of objects whose latest version carries o, in id order.
func (s *Store) FindObservable(ctx context.Context, o stix.Observable) ([]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `
		SELECT DISTINCT o.id FROM observables x
		JOIN object_versions v ON v.vid = x.vid JOIN objects o ON o.oid = v.oid
		WHERE x.hash = ? AND x.kind = ? AND x.value = ? AND o.latest_vid = x.vid
		ORDER BY o.id`, fnv64(o.Kind, o.Value, true), o.Kind, o.Value)
	if err != nil {
		return nil, fmt.Errorf("sqlite: find observable %s %q: %w", o.Kind, o.Value, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlite: find observable %s %q: %w", o.Kind, o.Value, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: find observable %s %q: %w", o.Kind, o.Value, err)
	}
	return ids, nil
}
