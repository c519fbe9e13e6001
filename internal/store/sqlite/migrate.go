package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrSchemaTooNew is returned by Open for a database whose schema a newer renkei wrote.
var ErrSchemaTooNew = errors.New("database schema is newer than this renkei")

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered schema change, migrations/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order. Versions start at 1 and have no gaps.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 || rest == "" {
			return nil, fmt.Errorf("embedded migration %s: name is not NNNN_name.sql", name)
		}
		b, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, fmt.Errorf("read embedded migration %s: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: rest, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("embedded migrations: expected version %d, found %d (%s)", i+1, m.version, m.name)
		}
	}
	return ms, nil
}

// SchemaVersion is the schema version this build of renkei writes.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// migrate brings the schema up to date in one transaction.
func migrate(ctx context.Context, w *writer, path string, now func() time.Time) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// Fast path: an up-to-date database needs no write lock, so a process opening the store while
	// another one writes a long batch (an import while `renkei serve` runs) does not wait for it. A new
	// database has no schema_migrations table yet; the query fails and the locked path below creates it.
	if current, err := schemaVersion(ctx, w.conn); err == nil {
		switch {
		case current == len(ms):
			return nil
		case current > len(ms):
			return fmt.Errorf("sqlite: migrate %s: %w: schema version %d, and this renkei knows versions up to %d; use a newer renkei",
				path, ErrSchemaTooNew, current, len(ms))
		}
	}
	err = w.inTx(ctx, func(w *writer) error {
		if _, err := w.conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT    NOT NULL,
			applied_at INTEGER NOT NULL
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		current, err := schemaVersion(ctx, w.conn)
		if err != nil {
			return err
		}
		if current > len(ms) {
			return fmt.Errorf("%w: %s has schema version %d and this renkei knows versions up to %d; use a newer renkei",
				ErrSchemaTooNew, path, current, len(ms))
		}
		for _, m := range ms[current:] {
			if _, err := w.conn.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
			}
			if _, err := w.conn.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, now().UnixMicro()); err != nil {
				return fmt.Errorf("record migration %d: %w", m.version, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	return nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// schemaVersion reads the highest applied migration (0 for a new database).
func schemaVersion(ctx context.Context, q queryer) (int, error) {
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}
