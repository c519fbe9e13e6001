package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// MaxPageSize bounds the versions List returns at once; a larger limit is lowered to it.
const MaxPageSize = 10000

// scanPageSize is the number of versions Scan reads per query. No connection is held between pages.
const scanPageSize = 1000

// versionCols are the columns scanVersion reads, in order.
var versionCols = `v.id, v.type, v.spec_version, v.created, v.modified, v.version_key, v.created_by_ref,
	v.revoked, v.digest, v.stored_at, v.cell, v.grp, ` + hostedSQL("v.created_by_ref") + `,
	v.obj_cell, v.obj_grp, v.obj_owner, ` + hostedSQL("v.obj_owner") + `, v.raw`

// hostedSQL is true when the organisation in col is hosted on this node.
func hostedSQL(col string) string {
	return col + " IN (SELECT id FROM organisations WHERE NOT remote)"
}

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
		&v.CreatedByRef, &v.Revoked, &digest, &stored, &v.Label.Cell, &v.Label.Group, &v.OwnerLocal,
		&v.Object.Cell, &v.Object.Group, &v.Object.Owner, &v.Object.OwnerLocal, &v.Raw)
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

// Versions returns every stored form of every version of id, by version key then spec version.
func (s *Store) Versions(ctx context.Context, id string) ([]store.Version, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+versionCols+`
		FROM id_keys k CROSS JOIN object_versions v ON v.vid = k.vid
		WHERE k.hash = ? AND v.id = ? ORDER BY v.version_key, v.spec_version`, idHash(id), id)
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
	// addedAfter is the added_after bound of a collection query, in microseconds: the query starts
	// after the greater of it and the cursor.
	addedAfter int64
}

func (q *listQuery) cond(c string, args ...any) {
	q.where = append(q.where, c)
	q.args = append(q.args, args...)
}

func (q *listQuery) in(col string, vals []string) {
	q.cond(inText(col, vals))
	q.args = appendStrings(q.args, vals)
}

func inText(col string, vals []string) string {
	return col + " IN (" + strings.Repeat("?,", len(vals)-1) + "?)"
}

func appendStrings(args []any, vals []string) []any {
	for _, v := range vals {
		args = append(args, v)
	}
	return args
}

// scope adds the condition that the label in the columns owner, cell and grp is one the read scope
// selects (store.ReadScope). The cell sets are bit masks tested in SQL: (mask >> cell) & 1.
func (q *listQuery) scope(sc *store.ReadScope, owner, cell, grp string) {
	mask := func(m uint64) int64 { return int64(m &^ (1 << 63)) }
	bit := "((? >> " + cell + ") & 1)"
	var b strings.Builder
	var args []any
	b.WriteString("((" + owner + " = ? AND " + bit + ")")
	args = append(args, sc.Org, mask(sc.Owner))
	if len(sc.Groups) > 0 && sc.Group != 0 {
		b.WriteString(" OR (" + inText(grp, sc.Groups) + " AND " + bit + ")")
		args = append(appendStrings(args, sc.Groups), mask(sc.Group))
	}
	b.WriteString(" OR (" + owner + " <> ? AND " + hostedSQL(owner) + " AND " + bit + ")")
	args = append(args, sc.Org, mask(sc.LocalOwner))
	b.WriteString(" OR (" + owner + " <> ? AND NOT " + hostedSQL(owner) + " AND " + bit + "))")
	args = append(args, sc.Org, mask(sc.RemoteOwner))
	q.cond(b.String(), args...)
}

// Ranking forms in scope. A form ranks above another of its object when its version key is greater,
// or when it is the same version in a greater spec version.
const (
	laterKey       = "v2.version_key > v.version_key"
	earlierKey     = "v2.version_key < v.version_key"
	sameKeyNewSpec = "v2.version_key = v.version_key AND v2.spec_version > v.spec_version"
)

// noneInScope adds the condition that no form v2 of v's object in scope satisfies cond; with specs,
// only forms of those spec versions count. In a collection, the scope is the collection's forms.
// before, when not empty, is a condition on v alone that implies the answer: SQLite evaluates an OR
// from the left and stops at the first true term, so the subquery then does not run.
func (q *listQuery) noneInScope(before, cond string, specs []string) {
	text, args := q.notExistsInScope(cond, specs)
	if before != "" {
		text = "(" + before + " OR " + text + ")"
	}
	q.cond(text, args...)
}

// notExistsInScope is the condition that no form v2 of v's object in scope satisfies cond.
func (q *listQuery) notExistsInScope(cond string, specs []string) (string, []any) {
	var b strings.Builder
	b.WriteString(`NOT EXISTS (SELECT 1 FROM id_keys k2 CROSS JOIN object_versions v2 ON v2.vid = k2.vid`)
	if q.coll {
		b.WriteString(` CROSS JOIN collection_objects c2 ON c2.vid = v2.vid AND c2.cid = c.cid`)
	}
	b.WriteString(` WHERE k2.hash = v.id_hash AND v2.id = v.id AND (` + cond + `)`)
	if len(specs) > 0 {
		b.WriteString(" AND " + inText("v2.spec_version", specs))
	}
	b.WriteString(")")
	return b.String(), appendStrings(nil, specs)
}

// topSpec keeps, of each version in scope, only the form with the greatest spec version. The flag
// spec_latest answers for the store; a form so marked is the greatest in any collection too.
func (q *listQuery) topSpec() {
	if q.coll {
		q.noneInScope("v.spec_latest", sameKeyNewSpec, nil)
	} else {
		q.cond("v.spec_latest")
	}
}

// idsIn selects the versions of ids: through their hashes in id_keys, then the ids themselves.
func (q *listQuery) idsIn(ids []string) {
	hashes := make([]any, len(ids))
	for i, id := range ids {
		hashes[i] = idHash(id)
	}
	q.cond("k.hash IN ("+strings.Repeat("?,", len(ids)-1)+"?)", hashes...)
	q.in("v.id", ids)
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
		cid, err := s.collectionRow(ctx, f.Collection)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
		q.cid, q.coll = cid, true
	}
	if f.Scope != nil {
		q.scope(f.Scope, "v.created_by_ref", "v.cell", "v.grp")
		q.scope(f.Scope, "v.obj_owner", "v.obj_cell", "v.obj_grp")
	}
	if !f.AddedAfter.IsZero() {
		if q.coll {
			// One lower bound on date_added with the cursor's (see sql): SQLite would use only one of
			// two, and a page after added_after would scan the collection from its start.
			q.addedAfter = f.AddedAfter.UnixMicro()
		} else {
			q.cond("v.stored_at > ?", f.AddedAfter.UnixMicro())
		}
	}
	if len(f.IDs) > 0 {
		q.ids = true
		q.idsIn(f.IDs)
	}
	if len(f.Types) > 0 {
		q.in("v.type", f.Types)
	}
	// The forms in scope: those of the chosen spec versions, else the greatest spec version of each
	// version (topSpec). Then the version match selects among them. The flag latest marks the
	// greatest form of each object in the store, so it is the latest in any scope that holds it.
	specs := f.SpecVersions
	if len(specs) > 0 {
		q.in("v.spec_version", specs)
	}
	switch f.Versions.Kind {
	case store.VersionsLast:
		switch {
		case len(specs) > 0:
			q.noneInScope("v.latest", laterKey, specs)
		case q.coll:
			q.noneInScope("v.latest", laterKey+" OR "+sameKeyNewSpec, nil)
		default:
			q.cond("v.latest")
		}
	case store.VersionsFirst:
		if len(specs) == 0 {
			q.topSpec()
		}
		q.noneInScope("", earlierKey, specs)
	case store.VersionsAll:
		if len(specs) == 0 {
			q.topSpec()
		}
	case store.VersionsKeys:
		// The union of the versions named, the first and the last.
		var terms []string
		var args []any
		if len(f.Versions.Keys) > 0 {
			terms = append(terms, inText("v.version_key", f.Versions.Keys))
			args = appendStrings(args, f.Versions.Keys)
		}
		for _, c := range []struct {
			on   bool
			cond string
		}{{f.Versions.First, earlierKey}, {f.Versions.Last, laterKey}} {
			if c.on {
				text, a := q.notExistsInScope(c.cond, specs)
				terms = append(terms, text)
				args = append(args, a...)
			}
		}
		if len(terms) == 0 {
			q.none = true
		} else {
			q.cond("("+strings.Join(terms, " OR ")+")", args...)
		}
		if len(specs) == 0 {
			q.topSpec()
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
	// versions found; else it walks the collection's or the store's order and filters. In a
	// collection, date_added is unique and orders on its own; the cursor's Seq is the version's vid.
	switch {
	case q.coll && q.ids:
		b.WriteString(`SELECT c.date_added, c.vid, ` + versionCols + `
			FROM id_keys k CROSS JOIN object_versions v ON v.vid = k.vid
			CROSS JOIN collection_objects c ON c.vid = v.vid AND c.cid = ?
			WHERE c.date_added > ?`)
		args = append(args, q.cid, max(after.At, q.addedAfter))
	case q.coll:
		b.WriteString(`SELECT c.date_added, c.vid, ` + versionCols + `
			FROM collection_objects c CROSS JOIN object_versions v ON v.vid = c.vid
			WHERE c.cid = ? AND c.date_added > ?`)
		args = append(args, q.cid, max(after.At, q.addedAfter))
	case q.ids:
		b.WriteString(`SELECT v.stored_at, v.vid, ` + versionCols + `
			FROM id_keys k CROSS JOIN object_versions v ON v.vid = k.vid
			WHERE v.vid > ?`)
		args = append(args, after.Seq)
	default:
		b.WriteString(`SELECT v.stored_at, v.vid, ` + versionCols + `
			FROM object_versions v
			WHERE v.vid > ?`)
		args = append(args, after.Seq)
	}
	for _, c := range q.where {
		b.WriteString(" AND ")
		b.WriteString(c)
	}
	args = append(args, q.args...)
	if q.coll {
		b.WriteString(" ORDER BY c.date_added LIMIT ?")
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
	rows, err := s.readQuery(ctx, query, args...)
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
	if s.rc != nil && cacheable(f) && len(f.Types) <= MaxFilterValues {
		cid, err := s.collectionRow(ctx, f.Collection)
		if err != nil {
			return store.Page{}, fmt.Errorf("sqlite: %w", err)
		}
		return s.cachedPage(ctx, f, cid, after, min(limit, MaxPageSize))
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

// Related returns the edges from or to id among the latest versions of objects: the edges of id's
// own latest version, and those of other latest versions whose target, or (for a relationship) whose
// source, is id. See store.Objects.
func (s *Store) Related(ctx context.Context, id string) ([]stix.Edge, error) {
	// One statement, so one snapshot: first id's own latest version (ref -1), then every latest
	// version with an edge keyed by id's hash.
	rows, err := s.rdb.QueryContext(ctx, `
		SELECT -1, v.id, v.edges FROM id_keys k CROSS JOIN object_versions v ON v.vid = k.vid
		WHERE k.hash = ?1 AND v.id = ?2 AND v.latest
		UNION ALL
		SELECT e.ref, v.id, v.edges FROM edge_keys e CROSS JOIN object_versions v ON v.vid = e.ref >> 21
		WHERE e.hash = ?1 AND v.latest`, idHash(id), id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: related to %s: %w", id, err)
	}
	defer rows.Close()
	var (
		edges   []stix.Edge
		decoded = map[string][]stix.Edge{} // the edges of each version read, by its id
	)
	for rows.Next() {
		var (
			ref   int64
			blob  []byte
			owner string
		)
		if err := rows.Scan(&ref, &owner, &blob); err != nil {
			return nil, fmt.Errorf("sqlite: related to %s: %w", id, err)
		}
		es, ok := decoded[owner]
		if !ok {
			if es, err = decodeEdges(blob); err != nil {
				return nil, fmt.Errorf("sqlite: related to %s: the latest version of %s: %w", id, owner, err)
			}
			decoded[owner] = es
		}
		if ref < 0 {
			for _, e := range es {
				if e.Source == "" {
					edges = append(edges, stix.Edge{Source: owner, Target: e.Target, Type: e.Type})
				}
			}
			continue
		}
		_, n, source := edgeRefParts(ref)
		if n >= len(es) {
			return nil, fmt.Errorf("sqlite: related to %s: the latest version of %s has no edge %d", id, owner, n)
		}
		e := es[n]
		if e.Source == "" {
			e.Source = owner
		}
		if (source && e.Source == id) || (!source && e.Target == id) {
			edges = append(edges, e)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: related to %s: %w", id, err)
	}
	slices.SortFunc(edges, func(a, b stix.Edge) int {
		return cmp.Or(strings.Compare(a.Source, b.Source), strings.Compare(a.Type, b.Type), strings.Compare(a.Target, b.Target))
	})
	return slices.Compact(edges), nil
}

// ObservableVersions returns the latest forms carrying o, narrowed to scope. See store.Objects.
func (s *Store) ObservableVersions(ctx context.Context, o stix.Observable, scope *store.ReadScope, limit int) ([]store.Version, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("sqlite: observable versions: limit %d must be positive", limit)
	}
	q := &listQuery{}
	if scope != nil {
		q.scope(scope, "v.created_by_ref", "v.cell", "v.grp")
		q.scope(scope, "v.obj_owner", "v.obj_cell", "v.obj_grp")
	}
	var b strings.Builder
	b.WriteString(`SELECT x.ref, v.observables, ` + strings.Replace(versionCols, ", v.raw", ", x''", 1) + `
		FROM observable_keys x CROSS JOIN object_versions v ON v.vid = x.ref >> 20
		WHERE x.hash = ? AND v.latest`)
	args := []any{fnv64(o.Kind, o.Value, true)}
	for _, c := range q.where {
		b.WriteString(" AND " + c)
	}
	args = append(args, q.args...)
	b.WriteString(" ORDER BY v.vid LIMIT ?")
	args = append(args, limit)
	rows, err := s.rdb.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: observable versions of %s %q: %w", o.Kind, o.Value, err)
	}
	defer rows.Close()
	var out []store.Version
	for rows.Next() {
		var (
			v    store.Version
			ref  int64
			blob []byte
		)
		if err := scanVersion(rows, &v, &ref, &blob); err != nil {
			return nil, fmt.Errorf("sqlite: observable versions of %s %q: %w", o.Kind, o.Value, err)
		}
		obs, err := decodeObservables(blob)
		if err != nil {
			return nil, fmt.Errorf("sqlite: observable versions: %s: %w", v.ID, err)
		}
		if _, n := obsRefParts(ref); n < len(obs) && obs[n] == o { // not a hash collision
			v.Raw = nil
			out = append(out, v)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: observable versions of %s %q: %w", o.Kind, o.Value, err)
	}
	return out, nil
}

// collectionRow returns the row id of the collection named by id or alias. A name, once it names a
// collection, names it for good (collections are never removed, and CreateCollection refuses an id
// or alias that is another's alias or id), so found names are kept: every TAXII page would otherwise
// run this query.
func (s *Store) collectionRow(ctx context.Context, name string) (int64, error) {
	if cid, ok := s.cids.Load(name); ok {
		return cid.(int64), nil
	}
	cid, err := findCID(ctx, s.rdb, name)
	if err != nil {
		return 0, err
	}
	s.cids.Store(name, cid)
	return cid, nil
}

// maxReadStmts bounds the prepared read statements kept: list queries differ only by the number
// of values in their IN lists, so a few dozen texts serve nearly every request.
const maxReadStmts = 256

// readQuery runs a read query through a statement prepared once per query text: a TAXII page
// otherwise spends a quarter of its time having SQLite parse and plan the same query. Once
// maxReadStmts texts are kept, further ones run unprepared.
func (s *Store) readQuery(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	s.stmtMu.Lock()
	st, ok := s.readStmts[query]
	if !ok && len(s.readStmts) < maxReadStmts {
		var err error
		if st, err = s.rdb.PrepareContext(ctx, query); err != nil {
			s.stmtMu.Unlock()
			return nil, err
		}
		s.readStmts[query] = st
		ok = true
	}
	s.stmtMu.Unlock()
	if !ok {
		return s.rdb.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}
