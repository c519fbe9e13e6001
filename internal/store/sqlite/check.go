package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"

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
		{&st.Objects, `SELECT count(*) FROM objects`},
		{&st.Versions, `SELECT count(*) FROM object_versions`},
		{&st.Revoked, `SELECT count(*) FROM objects WHERE revoked`},
		{&st.Collections, `SELECT count(*) FROM collections`},
		{&st.Memberships, `SELECT count(*) FROM collection_objects`},
		{&st.Relationships, `SELECT count(*) FROM relationships`},
		{&st.Observables, `SELECT count(*) FROM observables`},
		{&st.Organisations, `SELECT count(*) FROM organisations`},
		{&st.Users, `SELECT count(*) FROM users`},
	}
	for _, c := range counts {
		if err := tx.QueryRowContext(ctx, c.query).Scan(c.dst); err != nil {
			return st, fmt.Errorf("sqlite: stats: %s: %w", c.query, err)
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT type, count(*) FROM objects GROUP BY type`)
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
func (s *Store) Check(ctx context.Context) (store.CheckReport, error) {
	var rep store.CheckReport
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return rep, fmt.Errorf("sqlite: check: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to undo
	c := &checker{ctx: ctx, tx: tx}
	steps := []func(*checker) error{
		checkSQLite, checkSchema, checkObjects, checkVersions(&rep.VersionsChecked), checkCollections, checkEdges,
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

// checkObjects compares the objects table with object_versions.
func checkObjects(c *checker) error {
	if err := c.rowsProblem(`SELECT o.id FROM objects o LEFT JOIN object_versions v ON v.vid = o.latest_vid
		WHERE v.vid IS NULL`, "objects: %s: its latest version is missing"); err != nil {
		return err
	}
	if err := c.rowsProblem(`SELECT o.id FROM objects o JOIN object_versions v ON v.vid = o.latest_vid
		WHERE v.oid != o.oid OR v.version_key != o.latest_key`,
		"objects: %s: its latest version belongs to another object or has another key"); err != nil {
		return err
	}
	if err := c.each(`SELECT o.id, o.latest_key, max(v.version_key) FROM objects o JOIN object_versions v ON v.oid = o.oid
		GROUP BY o.oid HAVING max(v.version_key) != o.latest_key`, func(r *sql.Rows) error {
		var id, latest, maxKey string
		if err := r.Scan(&id, &latest, &maxKey); err != nil {
			return err
		}
		c.add("objects: %s: latest version is recorded as %q but the greatest stored is %q", id, latest, maxKey)
		return nil
	}); err != nil {
		return err
	}
	if err := c.each(`SELECT o.id, o.revoked, coalesce(o.revoked_key, ''), o.revoked_key IS NULL,
			(SELECT coalesce(min(v.version_key), '') FROM object_versions v WHERE v.oid = o.oid AND v.revoked),
			EXISTS (SELECT 1 FROM object_versions v WHERE v.oid = o.oid AND v.revoked)
		FROM objects o`, func(r *sql.Rows) error {
		var (
			id, key, minKey  string
			revoked, keyNull bool
			anyRevoked       bool
		)
		if err := r.Scan(&id, &revoked, &key, &keyNull, &minKey, &anyRevoked); err != nil {
			return err
		}
		switch {
		case revoked != anyRevoked:
			c.add("objects: %s: revoked is %t but %s", id, revoked, map[bool]string{
				true: "a stored version is revoked", false: "no stored version is revoked"}[anyRevoked])
		case revoked && (keyNull || key != minKey):
			c.add("objects: %s: revoked at version %q but the earliest revoked version is %q", id, key, minKey)
		case !revoked && !keyNull:
			c.add("objects: %s: not revoked but has a revoked version key %q", id, key)
		}
		return nil
	}); err != nil {
		return err
	}
	return c.rowsProblem(`SELECT 'version row ' || v.vid || ' (object row ' || v.oid || ')' FROM object_versions v
		LEFT JOIN objects o ON o.oid = v.oid WHERE o.oid IS NULL`, "object_versions: %s has no objects row")
}

// checkVersions reads every version: its bytes must be a JSON object whose id, type, created and
// modified match the row, and stored times must increase with the sequence.
func checkVersions(count *int64) func(c *checker) error {
	return func(c *checker) error {
		var lastVid, lastStored int64
		return c.each(`SELECT v.vid, coalesce(o.id, ''), coalesce(o.type, ''), v.created, v.modified, v.version_key,
				v.stored_at, v.digest, v.raw
			FROM object_versions v LEFT JOIN objects o ON o.oid = v.oid ORDER BY v.vid`, func(r *sql.Rows) error {
			var (
				vid, stored                     int64
				id, typ, created, modified, key string
				digest, raw                     []byte
			)
			if err := r.Scan(&vid, &id, &typ, &created, &modified, &key, &stored, &digest, &raw); err != nil {
				return err
			}
			*count++
			where := fmt.Sprintf("version row %d (%s %s)", vid, id, key)
			if lastVid != 0 && stored <= lastStored {
				c.add("object_versions: %s: stored at %d µs, not after the previous version (%d µs)", where, stored, lastStored)
			}
			lastVid, lastStored = vid, stored
			if d, err := stix.Digest(raw); err != nil {
				c.add("object_versions: %s: stored bytes: %v", where, err)
			} else if !bytes.Equal(d[:], digest) {
				c.add("object_versions: %s: the digest does not match the stored bytes", where)
			}
			props, err := topLevel(raw, "id", "type", "created", "modified")
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
			want := ""
			for _, t := range []string{modified, created} {
				if t != "" {
					ts, err := stix.ParseTimestamp(t)
					if err != nil {
						c.add("object_versions: %s: %v", where, err)
					}
					want = ts.Key()
					break
				}
			}
			if key != want {
				c.add("object_versions: %s: version key should be %q", where, want)
			}
			return nil
		})
	}
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

// checkCollections verifies that date_added strictly increases, in insertion order, within every
// collection, and never passes the collection's recorded last value.
func checkCollections(c *checker) error {
	type state struct{ last, max int64 }
	seen := map[int64]*state{}
	if err := c.each(`SELECT cid, seq, date_added FROM collection_objects ORDER BY seq`, func(r *sql.Rows) error {
		var cid, seq, added int64
		if err := r.Scan(&cid, &seq, &added); err != nil {
			return err
		}
		st := seen[cid]
		if st == nil {
			st = &state{}
			seen[cid] = st
		} else if added <= st.last {
			c.add("collection_objects: row %d of collection row %d: date_added %d µs is not after the previous (%d µs)",
				seq, cid, added, st.last)
		}
		st.last, st.max = added, max(st.max, added)
		return nil
	}); err != nil {
		return err
	}
	return c.each(`SELECT cid, id, last_date_added FROM collections`, func(r *sql.Rows) error {
		var (
			cid, last int64
			id        string
		)
		if err := r.Scan(&cid, &id, &last); err != nil {
			return err
		}
		if st := seen[cid]; st != nil && st.max > last {
			c.add("collections: %s: holds date_added %d µs, later than its recorded last %d µs", id, st.max, last)
		}
		return nil
	})
}

// checkEdges verifies that relationships and observables belong to stored versions and that their
// hashes are right.
func checkEdges(c *checker) error {
	if err := c.rowsProblem(`SELECT CASE r.source WHEN '' THEN '(self)' ELSE r.source END || ' ' || r.type || ' ' || r.target ||
			' (version row ' || r.vid || ')'
		FROM relationships r LEFT JOIN object_versions v ON v.vid = r.vid WHERE v.vid IS NULL`,
		"relationships: %s: the version is missing"); err != nil {
		return err
	}
	if err := c.rowsProblem(`SELECT x.kind || ' ' || x.value || ' (version row ' || x.vid || ')'
		FROM observables x LEFT JOIN object_versions v ON v.vid = x.vid WHERE v.vid IS NULL`,
		"observables: %s: the version is missing"); err != nil {
		return err
	}
	if err := c.each(`SELECT vid, target, target_hash FROM relationships`, func(r *sql.Rows) error {
		var (
			vid, h int64
			target string
		)
		if err := r.Scan(&vid, &target, &h); err != nil {
			return err
		}
		if h != fnv64(target, "", false) {
			c.add("relationships: edge to %s of version row %d: wrong target hash", target, vid)
		}
		return nil
	}); err != nil {
		return err
	}
	return c.each(`SELECT vid, kind, value, hash FROM observables`, func(r *sql.Rows) error {
		var (
			vid, h      int64
			kind, value string
		)
		if err := r.Scan(&vid, &kind, &value, &h); err != nil {
			return err
		}
		if h != fnv64(kind, value, true) {
			c.add("observables: %s %s of version row %d: wrong hash", kind, value, vid)
		}
		return nil
	})
}
