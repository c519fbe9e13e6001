package sqlite

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/renkei-cti/renkei/internal/stix"
	"github.com/renkei-cti/renkei/internal/store"
)

// Stats counts what the store holds, in one read transaction.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	st := store.Stats{ByType: map[string]int64{}}
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return st, fmt.Errorf("sqlite: stats: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to undo, and the error says nothing new
	counts := []struct {
		dst   *int64
		query string
	}{
		{&st.Objects, `SELECT coalesce(sum(objects), 0) FROM object_counts`},
		{&st.Versions, `SELECT count(*) FROM id_keys`},
		{&st.Revoked, `SELECT coalesce(sum(revoked), 0) FROM object_counts`},
		{&st.Collections, `SELECT count(*) FROM collections`},
		{&st.Memberships, `SELECT count(*) FROM collection_objects`},
		{&st.Relationships, `SELECT count(*) FROM edge_keys WHERE ref & 1 = 0`},
		{&st.Observables, `SELECT count(*) FROM observable_keys`},
		{&st.Organisations, `SELECT count(*) FROM organisations`},
		{&st.Users, `SELECT count(*) FROM users`},
	}
	for _, c := range counts {
		if err := tx.QueryRowContext(ctx, c.query).Scan(c.dst); err != nil {
			return st, fmt.Errorf("sqlite: stats: %s: %w", c.query, err)
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT type, objects FROM object_counts WHERE objects > 0`)
	if err != nil {
		return st, fmt.Errorf("sqlite: stats by type: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			typ string
			n   int64
		)
		if err := rows.Scan(&typ, &n); err != nil {
			return st, fmt.Errorf("sqlite: stats by type: %w", err)
		}
		st.ByType[typ] = n
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("sqlite: stats by type: %w", err)
	}
	if st.SchemaVersion, err = schemaVersion(ctx, tx); err != nil {
		return st, fmt.Errorf("sqlite: stats: %w", err)
	}
	for _, p := range []string{s.path, s.path + "-wal"} {
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return st, fmt.Errorf("sqlite: stats: %w", err)
		default:
			st.Bytes += fi.Size()
		}
	}
	return st, nil
}

// maxProblems bounds the problems Check lists; the count of those left out is reported.
const maxProblems = 10000

type checker struct {
	ctx      context.Context
	tx       *sql.Tx
	problems []string
	omitted  int
}

func (c *checker) add(format string, args ...any) {
	if len(c.problems) >= maxProblems {
		c.omitted++
		return
	}
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// each runs query and calls fn for every row; fn scans the row.
func (c *checker) each(query string, fn func(r *sql.Rows) error) error {
	rows, err := c.tx.QueryContext(c.ctx, query)
	if err != nil {
		return fmt.Errorf("%s: %w", firstLine(query), err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return fmt.Errorf("%s: %w", firstLine(query), err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", firstLine(query), err)
	}
	return nil
}

// rowsProblem adds one problem per row of a query returning one text column.
func (c *checker) rowsProblem(query, format string) error {
	return c.each(query, func(r *sql.Rows) error {
		var s string
		if err := r.Scan(&s); err != nil {
			return err
		}
		c.add(format, s)
		return nil
	})
}

// Check verifies the store's integrity in one read transaction and reports every problem it finds.
// Its memory does not grow with the store: it streams every table in the order of a key.
func (s *Store) Check(ctx context.Context) (store.CheckReport, error) {
	var rep store.CheckReport
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return rep, fmt.Errorf("sqlite: check: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to undo
	c := &checker{ctx: ctx, tx: tx}
	var want keySums
	steps := []func(*checker) error{
		checkSQLite, checkSchema,
		func(c *checker) error { return checkVersions(c, &rep.VersionsChecked, &want) },
		checkObjects,
		func(c *checker) error { return checkKeys(c, &want) },
		checkBlocks, // blocks.go
		checkCollections,
		checkLabels,
		checkAudit,
	}
	for _, step := range steps {
		if err := step(c); err != nil {
			return rep, fmt.Errorf("sqlite: check: %w", err)
		}
	}
	rep.Problems = c.problems
	if c.omitted > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("… and %d more problems not listed", c.omitted))
	}
	return rep, nil
}

// checkSQLite runs SQLite's own checks of the file and of the foreign keys.
func checkSQLite(c *checker) error {
	if err := c.each(`PRAGMA integrity_check`, func(r *sql.Rows) error {
		var msg string
		if err := r.Scan(&msg); err != nil {
			return err
		}
		if msg != "ok" {
			c.add("sqlite integrity: %s", msg)
		}
		return nil
	}); err != nil {
		return err
	}
	return c.each(`PRAGMA foreign_key_check`, func(r *sql.Rows) error {
		var (
			table, parent string
			rowid         sql.NullInt64
			fk            int64
		)
		if err := r.Scan(&table, &rowid, &parent, &fk); err != nil {
			return err
		}
		if rowid.Valid {
			c.add("foreign key: row %d of %s refers to a missing row of %s", rowid.Int64, table, parent)
		} else {
			c.add("foreign key: a row of %s refers to a missing row of %s", table, parent)
		}
		return nil
	})
}

func checkSchema(c *checker) error {
	v, err := schemaVersion(c.ctx, c.tx)
	if err != nil {
		return err
	}
	if want := SchemaVersion(); v != want {
		c.add("schema: version %d, expected %d", v, want)
	}
	var n, maxV int
	if err := c.tx.QueryRowContext(c.ctx, `SELECT count(*), coalesce(max(version), 0) FROM schema_migrations`).Scan(&n, &maxV); err != nil {
		return fmt.Errorf("schema_migrations: %w", err)
	}
	if n != maxV {
		c.add("schema: %d migrations recorded up to version %d: some are missing", n, maxV)
	}
	return nil
}

// keySum is an order-independent digest of a set of keys: their count and the sum of a mix of each.
// Check computes it from the versions and from the key table and compares the two.
type keySum struct {
	n   int64
	sum uint64
}

func (s *keySum) add(k key) {
	s.n++
	s.sum += mix64(uint64(k.hash) ^ mix64(uint64(k.ref)))
}

// mix64 is the finaliser of SplitMix64.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// keySums are the expected digests of id_keys, edge_keys and observable_keys.
type keySums struct{ ids, edges, obs keySum }

// versionKeys returns the keys a version row should have.
func versionKeys(vid, idHash int64, edgesBlob, obsBlob []byte) (ids, edges, obs []key, err error) {
	es, err := decodeEdges(edgesBlob)
	if err != nil {
		return nil, nil, nil, err
	}
	os, err := decodeObservables(obsBlob)
	if err != nil {
		return nil, nil, nil, err
	}
	return []key{{idHash, vid}}, appendEdgeKeys(nil, vid, es), appendObsKeys(nil, vid, os), nil
}

// checkVersions reads every form: its bytes must be a JSON object whose id, type, spec_version,
// created and modified match the row, its digest and hashes must be right, its edges and
// observables readable, and stored times must increase with the sequence. It sums the keys the
// forms should have.
func checkVersions(c *checker, count *int64, want *keySums) error {
	var lastVid, lastStored int64
	return c.each(`SELECT vid, id_hash, id, type, spec_version, created, modified, version_key, stored_at, digest, edges, observables, raw
		FROM object_versions ORDER BY vid`, func(r *sql.Rows) error {
		var (
			vid, hash, stored                      int64
			id, typ, spec, created, modified, vkey string
			digest, edgesBlob, obsBlob, rawRow     []byte
		)
		if err := r.Scan(&vid, &hash, &id, &typ, &spec, &created, &modified, &vkey, &stored, &digest, &edgesBlob, &obsBlob, &rawRow); err != nil {
			return err
		}
		*count++
		where := fmt.Sprintf("version row %d (%s %s, STIX %s)", vid, id, vkey, spec)
		if lastVid != 0 && stored <= lastStored {
			c.add("object_versions: %s: stored at %d µs, not after the previous version (%d µs)", where, stored, lastStored)
		}
		lastVid, lastStored = vid, stored
		if hash != idHash(id) {
			c.add("object_versions: %s: wrong id hash", where)
		}
		ids, edges, obs, err := versionKeys(vid, hash, edgesBlob, obsBlob)
		if err != nil {
			c.add("object_versions: %s: %v", where, err)
		}
		for _, k := range ids {
			want.ids.add(k)
		}
		for _, k := range edges {
			want.edges.add(k)
		}
		for _, k := range obs {
			want.obs.add(k)
		}
		if d, err := stix.Digest(rawRow); err != nil {
			c.add("object_versions: %s: stored bytes: %v", where, err)
		} else if !bytes.Equal(d[:], digest) {
			c.add("object_versions: %s: the digest does not match the stored bytes", where)
		}
		props, err := topLevel(rawRow, "id", "type", "spec_version", "created", "modified")
		if err != nil {
			c.add("object_versions: %s: stored bytes: %v", where, err)
			return nil
		}
		if props["id"] != id {
			c.add("object_versions: %s: stored bytes have id %q", where, props["id"])
		}
		if props["type"] != typ {
			c.add("object_versions: %s: stored bytes have type %q, the row %q", where, props["type"], typ)
		}
		if props["created"] != created || props["modified"] != modified {
			c.add("object_versions: %s: stored bytes have created %q and modified %q, the row %q and %q",
				where, props["created"], props["modified"], created, modified)
		}
		// As stix.Decode reads it: without spec_version, an object is STIX 2.0, but for an SCO
		// (no created, no modified), which is 2.1.
		wantSpec, ok := props["spec_version"]
		switch {
		case ok:
		case created == "" && modified == "":
			wantSpec = stix.SpecVersion21
		default:
			wantSpec = stix.SpecVersion20
		}
		if spec != wantSpec {
			c.add("object_versions: %s: spec version should be %q, from the stored bytes", where, wantSpec)
		}
		wantKey := ""
		for _, t := range []string{modified, created} {
			if t != "" {
				ts, err := stix.ParseTimestamp(t)
				if err != nil {
					c.add("object_versions: %s: %v", where, err)
				}
				wantKey = ts.Key()
				break
			}
		}
		if vkey != wantKey {
			c.add("object_versions: %s: version key should be %q", where, wantKey)
		}
		return nil
	})
}

// checkObjects walks the forms of each id, in the order of id_keys: no two may share a version key
// and a spec version; exactly one, the greatest by (version key, spec version), must be marked
// latest; of each version key, exactly one form, the greatest spec version, must be marked
// spec_latest; they must share a type; and object_counts must count the ids and the revoked ones.
func checkObjects(c *checker) error {
	type objVersion struct {
		key, spec                   string
		typ                         string
		latest, specLatest, revoked bool
	}
	type counts struct{ objects, revoked int64 }
	found := map[string]*counts{}
	var (
		curHash int64
		group   = map[string][]objVersion{} // the forms of each id with hash curHash
	)
	name := func(v objVersion) string { return fmt.Sprintf("%q (STIX %s)", v.key, v.spec) }
	flush := func() {
		for id, vs := range group {
			slices.SortFunc(vs, func(a, b objVersion) int {
				return cmp.Or(strings.Compare(a.key, b.key), strings.Compare(a.spec, b.spec))
			})
			latest := -1
			revoked := false
			for i, v := range vs {
				if i > 0 && v.key == vs[i-1].key && v.spec == vs[i-1].spec {
					c.add("objects: %s: version %s is stored more than once", id, name(v))
				}
				if v.latest {
					if latest >= 0 {
						c.add("objects: %s: versions %s and %s are both marked latest", id, name(vs[latest]), name(v))
					}
					latest = i
				}
				if v.typ != vs[0].typ {
					c.add("objects: %s: versions of types %q and %q", id, vs[0].typ, v.typ)
				}
				revoked = revoked || v.revoked
			}
			switch greatest := vs[len(vs)-1]; {
			case latest < 0:
				c.add("objects: %s: no version is marked latest", id)
			case vs[latest].key != greatest.key || vs[latest].spec != greatest.spec:
				c.add("objects: %s: version %s is marked latest but the greatest stored is %s", id, name(vs[latest]), name(greatest))
			}
			// The forms of each version key, which the sort put side by side.
			for i := 0; i < len(vs); {
				j, marked := i, -1
				for ; j < len(vs) && vs[j].key == vs[i].key; j++ {
					if vs[j].specLatest {
						if marked >= 0 {
							c.add("objects: %s: forms %s and %s are both marked the latest spec version", id, name(vs[marked]), name(vs[j]))
						}
						marked = j
					}
				}
				switch {
				case marked < 0:
					c.add("objects: %s: no form of version %q is marked the latest spec version", id, vs[i].key)
				case marked != j-1:
					c.add("objects: %s: form %s is marked the latest spec version but the greatest stored is %s", id, name(vs[marked]), name(vs[j-1]))
				}
				i = j
			}
			n := found[vs[0].typ]
			if n == nil {
				n = &counts{}
				found[vs[0].typ] = n
			}
			n.objects++
			if revoked {
				n.revoked++
			}
		}
		clear(group)
	}
	err := c.each(`SELECT k.hash, k.vid, v.vid IS NULL, coalesce(v.id, ''), coalesce(v.type, ''), coalesce(v.version_key, ''),
			coalesce(v.spec_version, ''), coalesce(v.latest, 0), coalesce(v.spec_latest, 0), coalesce(v.revoked, 0)
		FROM id_keys k LEFT JOIN object_versions v ON v.vid = k.vid ORDER BY k.hash, k.vid`, func(r *sql.Rows) error {
		var (
			hash, vid                   int64
			missing                     bool
			id, typ, vkey, spec         string
			latest, specLatest, revoked bool
		)
		if err := r.Scan(&hash, &vid, &missing, &id, &typ, &vkey, &spec, &latest, &specLatest, &revoked); err != nil {
			return err
		}
		if missing {
			c.add("id_keys: key %d of version row %d: the version is missing", hash, vid)
			return nil
		}
		if hash != curHash {
			flush()
			curHash = hash
		}
		group[id] = append(group[id], objVersion{key: vkey, spec: spec, typ: typ, latest: latest, specLatest: specLatest, revoked: revoked})
		return nil
	})
	if err != nil {
		return err
	}
	flush()
	recorded := map[string]counts{}
	if err := c.each(`SELECT type, objects, revoked FROM object_counts`, func(r *sql.Rows) error {
		var (
			typ string
			n   counts
		)
		if err := r.Scan(&typ, &n.objects, &n.revoked); err != nil {
			return err
		}
		recorded[typ] = n
		return nil
	}); err != nil {
		return err
	}
	for typ := range found {
		if _, ok := recorded[typ]; !ok {
			recorded[typ] = counts{}
		}
	}
	for typ, rec := range recorded {
		var f counts
		if p := found[typ]; p != nil {
			f = *p
		}
		if rec != f {
			c.add("object_counts: %s: %d objects and %d revoked recorded, %d and %d stored", typ, rec.objects, rec.revoked, f.objects, f.revoked)
		}
	}
	return nil
}

// checkKeys compares each key table with the keys the versions should have. When they differ, it
// looks for the keys that are wrong or missing, to name them.
func checkKeys(c *checker, want *keySums) error {
	tables := []struct {
		name string
		want keySum
	}{
		{"id_keys", want.ids}, {"edge_keys", want.edges}, {"observable_keys", want.obs},
	}
	for _, t := range tables {
		var got keySum
		ref := "ref"
		if t.name == "id_keys" {
			ref = "vid"
		}
		if err := c.each(`SELECT hash, `+ref+` FROM `+t.name, func(r *sql.Rows) error {
			var k key
			if err := r.Scan(&k.hash, &k.ref); err != nil {
				return err
			}
			got.add(k)
			return nil
		}); err != nil {
			return err
		}
		if got == t.want {
			continue
		}
		c.add("%s: %d keys, and %d expected from the versions; they differ", t.name, got.n, t.want.n)
		if err := findBadKeys(c, t.name, ref); err != nil {
			return err
		}
	}
	return nil
}

// findBadKeys names the keys of a table that no version has, and the keys versions have that the
// table lacks.
func findBadKeys(c *checker, table, ref string) error {
	expected := func(vid, idHash int64, edgesBlob, obsBlob []byte) []key {
		ids, edges, obs, err := versionKeys(vid, idHash, edgesBlob, obsBlob)
		if err != nil {
			return nil // reported by checkVersions
		}
		switch table {
		case "id_keys":
			return ids
		case "edge_keys":
			return edges
		}
		return obs
	}
	// Keys the table has: each must be one its version should have.
	var vidOf func(ref int64) int64
	switch table {
	case "id_keys":
		vidOf = func(ref int64) int64 { return ref }
	case "edge_keys":
		vidOf = func(ref int64) int64 { vid, _, _ := edgeRefParts(ref); return vid }
	default:
		vidOf = func(ref int64) int64 { vid, _ := obsRefParts(ref); return vid }
	}
	lookup, err := c.tx.PrepareContext(c.ctx, `SELECT id_hash, edges, observables FROM object_versions WHERE vid = ?`)
	if err != nil {
		return err
	}
	defer lookup.Close()
	if err := c.each(`SELECT hash, `+ref+` FROM `+table, func(r *sql.Rows) error {
		var k key
		if err := r.Scan(&k.hash, &k.ref); err != nil {
			return err
		}
		vid := vidOf(k.ref)
		var (
			h         int64
			eb, obBlb []byte
		)
		switch err := lookup.QueryRowContext(c.ctx, vid).Scan(&h, &eb, &obBlb); {
		case errors.Is(err, sql.ErrNoRows):
			c.add("%s: key %d %d: version row %d is missing", table, k.hash, k.ref, vid)
			return nil
		case err != nil:
			return err
		}
		if !slices.Contains(expected(vid, h, eb, obBlb), k) {
			c.add("%s: key %d %d: version row %d has no such key", table, k.hash, k.ref, vid)
		}
		return nil
	}); err != nil {
		return err
	}
	// Keys the versions should have: each must be in the table.
	probe, err := c.tx.PrepareContext(c.ctx, `SELECT count(*) FROM `+table+` WHERE hash = ? AND `+ref+` = ?`)
	if err != nil {
		return err
	}
	defer probe.Close()
	return c.each(`SELECT vid, id, id_hash, edges, observables FROM object_versions ORDER BY vid`, func(r *sql.Rows) error {
		var (
			vid, h    int64
			id        string
			eb, obBlb []byte
		)
		if err := r.Scan(&vid, &id, &h, &eb, &obBlb); err != nil {
			return err
		}
		for _, k := range expected(vid, h, eb, obBlb) {
			var n int
			if err := probe.QueryRowContext(c.ctx, k.hash, k.ref).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				c.add("%s: version row %d (%s) lacks its key %d %d", table, vid, id, k.hash, k.ref)
			}
		}
		return nil
	})
}

// checkCollections verifies that every membership belongs to a collection and a stored version, and
// that no date_added passes its collection's recorded last value (the next one given must be greater
// than every date_added in the collection).
func checkCollections(c *checker) error {
	if err := c.each(`SELECT m.cid, m.date_added, m.vid, coll.cid IS NULL, v.vid IS NULL
		FROM collection_objects m LEFT JOIN collections coll ON coll.cid = m.cid
		LEFT JOIN object_versions v ON v.vid = m.vid
		WHERE coll.cid IS NULL OR v.vid IS NULL`, func(r *sql.Rows) error {
		var (
			cid, added, vid         int64
			noCollection, noVersion bool
		)
		if err := r.Scan(&cid, &added, &vid, &noCollection, &noVersion); err != nil {
			return err
		}
		if noCollection {
			c.add("collection_objects: version row %d added at %d µs: collection row %d is missing", vid, added, cid)
		}
		if noVersion {
			c.add("collection_objects: version row %d added at %d µs to collection row %d: the version is missing", vid, added, cid)
		}
		return nil
	}); err != nil {
		return err
	}
	return c.each(`SELECT coll.id, coll.last_date_added, (SELECT max(m.date_added) FROM collection_objects m WHERE m.cid = coll.cid)
		FROM collections coll`, func(r *sql.Rows) error {
		var (
			id   string
			last int64
			most sql.NullInt64
		)
		if err := r.Scan(&id, &last, &most); err != nil {
			return err
		}
		if most.Valid && most.Int64 > last {
			c.add("collections: %s: holds date_added %d µs, later than its recorded last %d µs", id, most.Int64, last)
		}
		return nil
	})
}

// checkLabels verifies that every form's object label is its object's latest form's label.
func checkLabels(c *checker) error {
	return c.each(`SELECT v.id, v.vid, v.obj_cell, v.obj_grp, v.obj_owner, l.cell, l.grp, l.created_by_ref
		FROM object_versions v JOIN object_versions l ON l.id_hash = v.id_hash AND l.id = v.id AND l.latest
		WHERE v.obj_cell <> l.cell OR v.obj_grp <> l.grp OR v.obj_owner <> l.created_by_ref`, func(r *sql.Rows) error {
		var (
			id                 string
			vid                int64
			oc, lc             int
			og, oo, lg, lowner string
		)
		if err := r.Scan(&id, &vid, &oc, &og, &oo, &lc, &lg, &lowner); err != nil {
			return err
		}
		c.add("object_versions: %s (row %d): object label (cell %d, group %q, owner %q) is not its latest form's (cell %d, group %q, owner %q)",
			id, vid, oc, og, oo, lc, lg, lowner)
		return nil
	})
}

// checkAudit verifies the audit log: sequence numbers 1, 2, 3… without a gap, and each record's
// canonical bytes are the canonical form of its columns (what a Merkle leaf will hash).
func checkAudit(c *checker) error {
	var next int64 = 1
	return c.each(`SELECT seq, at, actor, action, target, detail, record FROM audit_log ORDER BY seq`, func(r *sql.Rows) error {
		var (
			rec store.AuditRecord
			at  int64
		)
		if err := r.Scan(&rec.Seq, &at, &rec.Actor, &rec.Action, &rec.Target, &rec.Detail, &rec.Canonical); err != nil {
			return err
		}
		if rec.Seq != next {
			c.add("audit_log: record %d follows record %d: records %d to %d are missing", rec.Seq, next-1, next, rec.Seq-1)
		}
		next = rec.Seq + 1
		rec.At = fromMicro(at)
		want, err := canonicalAudit(rec)
		if err != nil {
			return err
		}
		if !bytes.Equal(want, rec.Canonical) {
			c.add("audit_log: record %d: its stored bytes are not the canonical form of its columns", rec.Seq)
		}
		return nil
	})
}

// topLevel reads the string values of the named top-level members of a JSON object.
func topLevel(raw []byte, names ...string) (map[string]string, error) {
	dec := jsontext.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if tok.Kind() != '{' {
		return nil, errors.New("not a JSON object")
	}
	out := make(map[string]string, len(names))
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		name := tok.String() // before the next read voids tok
		want := false
		for _, n := range names {
			want = want || n == name
		}
		if !want {
			if err := dec.SkipValue(); err != nil {
				return nil, fmt.Errorf("not JSON: %w", err)
			}
			continue
		}
		val, err := dec.ReadValue()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		if val.Kind() != '"' {
			continue // reported as a mismatch with the row
		}
		str, err := jsontext.AppendUnquote(nil, val)
		if err != nil {
			return nil, fmt.Errorf("property %s: %w", name, err)
		}
		out[name] = string(str)
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	return out, nil
}
