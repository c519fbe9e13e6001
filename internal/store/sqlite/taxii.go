package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/renkei-cti/renkei/internal/store"
)

// findCID returns the row id of a collection found by id, else by alias.
func findCID(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}, idOrAlias string) (int64, error) {
	var cid int64
	err := q.QueryRowContext(ctx, `SELECT cid FROM collections WHERE id = ?1 OR alias = ?1
		ORDER BY id = ?1 DESC LIMIT 1`, idOrAlias).Scan(&cid)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("collection %q: %w", idOrAlias, store.ErrNotFound)
	case err != nil:
		return 0, fmt.Errorf("find collection %q: %w", idOrAlias, err)
	}
	return cid, nil
}

// SetGrant records, replaces or (with neither Read nor Write) removes a grant. See store.Collections.
func (s *Store) SetGrant(ctx context.Context, g store.Grant) error {
	switch g.Kind {
	case store.GrantOrg, store.GrantGroup, store.GrantUser:
	default:
		return fmt.Errorf("sqlite: grant: unknown subject kind %q", g.Kind)
	}
	if g.Subject == "" {
		return errors.New("sqlite: grant: no subject")
	}
	err := s.inTx(ctx, func(w *writer) error {
		cid, err := findCID(ctx, w.conn, g.Collection)
		if err != nil {
			return err
		}
		if !g.Read && !g.Write {
			_, err = w.conn.ExecContext(ctx, `DELETE FROM collection_grants WHERE cid = ? AND kind = ? AND subject = ?`,
				cid, string(g.Kind), g.Subject)
			return err
		}
		_, err = w.conn.ExecContext(ctx, `INSERT INTO collection_grants (cid, kind, subject, can_read, can_write)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (cid, kind, subject) DO UPDATE SET can_read = excluded.can_read,
			can_write = excluded.can_write`, cid, string(g.Kind), g.Subject, g.Read, g.Write)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: grant on %q: %w", g.Collection, err)
	}
	return nil
}

// Grants lists the grants of a collection. See store.Collections.
func (s *Store) Grants(ctx context.Context, collection string) ([]store.Grant, error) {
	cid, err := findCID(ctx, s.rdb, collection)
	if err != nil {
		return nil, fmt.Errorf("sqlite: grants: %w", err)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT c.id, g.kind, g.subject, g.can_read, g.can_write
		FROM collection_grants g JOIN collections c ON c.cid = g.cid WHERE g.cid = ? ORDER BY g.kind, g.subject`, cid)
	if err != nil {
		return nil, fmt.Errorf("sqlite: grants of %q: %w", collection, err)
	}
	defer rows.Close()
	var gs []store.Grant
	for rows.Next() {
		var g store.Grant
		if err := rows.Scan(&g.Collection, &g.Kind, &g.Subject, &g.Read, &g.Write); err != nil {
			return nil, fmt.Errorf("sqlite: grants of %q: %w", collection, err)
		}
		gs = append(gs, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: grants of %q: %w", collection, err)
	}
	return gs, nil
}

// RemoveFromCollection takes the selected forms of id out of the collection. See store.Collections.
func (s *Store) RemoveFromCollection(ctx context.Context, f store.Filter, id string) (int, error) {
	if f.Collection == "" {
		return 0, errors.New("sqlite: remove from collection: no collection given")
	}
	f.IDs = []string{id}
	q, err := s.buildList(ctx, f)
	if err != nil {
		return 0, err
	}
	var vids []int64
	if !q.none {
		query, args := q.sql(store.Cursor{}, MaxPageSize)
		rows, err := s.rdb.QueryContext(ctx, query, args...)
		if err != nil {
			return 0, fmt.Errorf("sqlite: remove %s from %q: %w", id, f.Collection, err)
		}
		for rows.Next() {
			var at, vid int64
			var v store.Version
			if err := scanVersion(rows, &v, &at, &vid); err != nil {
				rows.Close()
				return 0, fmt.Errorf("sqlite: remove %s from %q: %w", id, f.Collection, err)
			}
			vids = append(vids, vid)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, fmt.Errorf("sqlite: remove %s from %q: %w", id, f.Collection, err)
		}
	}
	if len(vids) == 0 {
		return 0, nil
	}
	removed := 0
	err = s.inTx(ctx, func(w *writer) error {
		del, err := w.stmt(ctx, `DELETE FROM collection_objects WHERE cid = ? AND vid = ?`)
		if err != nil {
			return err
		}
		for _, vid := range vids {
			res, err := del.ExecContext(ctx, q.cid, vid)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			removed += int(n)
		}
		if removed > 0 {
			// Counted for the read cache of any process: members it holds may be gone.
			if _, err := w.conn.ExecContext(ctx, `UPDATE collections SET removals = removals + 1 WHERE cid = ?`, q.cid); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: remove %s from %q: %w", id, f.Collection, err)
	}
	return removed, nil
}

// PutStatus stores a TAXII status resource.
func (s *Store) PutStatus(ctx context.Context, st store.StatusRecord) error {
	if st.ID == "" || len(st.Body) == 0 {
		return errors.New("sqlite: put status: no id or no body")
	}
	if st.CreatedAt.IsZero() {
		st.CreatedAt = s.now()
	}
	err := s.exec(ctx, `INSERT INTO taxii_status (id, user_id, created_at, body) VALUES (?, ?, ?, ?)`,
		st.ID, st.UserID, micro(st.CreatedAt), st.Body)
	switch {
	case isUnique(err):
		return fmt.Errorf("sqlite: status %s: %w", st.ID, store.ErrExists)
	case err != nil:
		return fmt.Errorf("sqlite: put status %s: %w", st.ID, err)
	}
	return nil
}

// GetStatus finds a TAXII status resource by id.
func (s *Store) GetStatus(ctx context.Context, id string) (store.StatusRecord, error) {
	st := store.StatusRecord{ID: id}
	var created int64
	err := s.rdb.QueryRowContext(ctx, `SELECT user_id, created_at, body FROM taxii_status WHERE id = ?`, id).
		Scan(&st.UserID, &created, &st.Body)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return st, fmt.Errorf("sqlite: status %s: %w", id, store.ErrNotFound)
	case err != nil:
		return st, fmt.Errorf("sqlite: status %s: %w", id, err)
	}
	st.CreatedAt = fromMicro(created)
	return st, nil
}

// PruneStatuses deletes the status resources created before the cutoff.
func (s *Store) PruneStatuses(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(w *writer) error {
		res, err := w.conn.ExecContext(ctx, `DELETE FROM taxii_status WHERE created_at < ?`, micro(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune statuses: %w", err)
	}
	return n, nil
}
