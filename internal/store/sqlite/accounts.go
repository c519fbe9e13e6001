package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/renkei-cti/renkei/internal/store"
)

// isUnique reports whether err is a UNIQUE or PRIMARY KEY constraint violation.
func isUnique(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// exec runs one statement in a write transaction.
func (s *Store) exec(ctx context.Context, query string, args ...any) error {
	return s.inTx(ctx, func(w *writer) error {
		_, err := w.conn.ExecContext(ctx, query, args...)
		return err
	})
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreateCollection adds a collection; its id and alias must be new (else ErrExists).
func (s *Store) CreateCollection(ctx context.Context, c store.Collection) error {
	if c.ID == "" {
		return errors.New("sqlite: create collection: the collection has no id")
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = s.now()
	}
	err := s.inTx(ctx, func(w *writer) error {
		// An alias may not name another collection by its id, nor an id another's alias.
		var n int
		if err := w.conn.QueryRowContext(ctx, `SELECT count(*) FROM collections WHERE alias = ?1 OR (?2 != '' AND id = ?2)`,
			c.ID, c.Alias).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return store.ErrExists
		}
		_, err := w.conn.ExecContext(ctx, `INSERT INTO collections (id, alias, title, description, created_at)
			VALUES (?, ?, ?, ?, ?)`, c.ID, nullString(c.Alias), c.Title, c.Description, micro(c.CreatedAt))
		return err
	})
	switch {
	case errors.Is(err, store.ErrExists) || isUnique(err):
		return fmt.Errorf("sqlite: collection %q (alias %q): %w", c.ID, c.Alias, store.ErrExists)
	case err != nil:
		return fmt.Errorf("sqlite: create collection %q: %w", c.ID, err)
	}
	return nil
}

const collectionCols = `id, coalesce(alias, ''), title, description, created_at`

func scanCollection(r rowScanner) (store.Collection, error) {
	var (
		c       store.Collection
		created int64
	)
	err := r.Scan(&c.ID, &c.Alias, &c.Title, &c.Description, &created)
	c.CreatedAt = fromMicro(created)
	return c, err
}

// Collection finds a collection by id, else by alias.
func (s *Store) Collection(ctx context.Context, idOrAlias string) (store.Collection, error) {
	c, err := scanCollection(s.rdb.QueryRowContext(ctx, `SELECT `+collectionCols+` FROM collections
		WHERE id = ?1 OR alias = ?1 ORDER BY id = ?1 DESC LIMIT 1`, idOrAlias))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Collection{}, fmt.Errorf("sqlite: collection %q: %w", idOrAlias, store.ErrNotFound)
	case err != nil:
		return store.Collection{}, fmt.Errorf("sqlite: collection %q: %w", idOrAlias, err)
	}
	return c, nil
}

// ListCollections returns every collection, oldest first.
func (s *Store) ListCollections(ctx context.Context) ([]store.Collection, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+collectionCols+` FROM collections ORDER BY cid`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list collections: %w", err)
	}
	defer rows.Close()
	var cs []store.Collection
	for rows.Next() {
		c, err := scanCollection(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list collections: %w", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list collections: %w", err)
	}
	return cs, nil
}

// CreateOrganisation adds an organisation; its id must be new (else ErrExists).
func (s *Store) CreateOrganisation(ctx context.Context, o store.Organisation) error {
	if o.ID == "" || o.Name == "" {
		return fmt.Errorf("sqlite: create organisation %q: an organisation needs an id and a name", o.ID)
	}
	if o.CreatedAt.IsZero() {
		o.CreatedAt = s.now()
	}
	err := s.exec(ctx, `INSERT INTO organisations (id, name, created_at) VALUES (?, ?, ?)`, o.ID, o.Name, micro(o.CreatedAt))
	switch {
	case isUnique(err):
		return fmt.Errorf("sqlite: organisation %s: %w", o.ID, store.ErrExists)
	case err != nil:
		return fmt.Errorf("sqlite: create organisation %s: %w", o.ID, err)
	}
	return nil
}

func scanOrganisation(r rowScanner) (store.Organisation, error) {
	var (
		o       store.Organisation
		created int64
	)
	err := r.Scan(&o.ID, &o.Name, &created)
	o.CreatedAt = fromMicro(created)
	return o, err
}

// Organisation finds an organisation by id.
func (s *Store) Organisation(ctx context.Context, id string) (store.Organisation, error) {
	o, err := scanOrganisation(s.rdb.QueryRowContext(ctx, `SELECT id, name, created_at FROM organisations WHERE id = ?`, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return o, fmt.Errorf("sqlite: organisation %s: %w", id, store.ErrNotFound)
	case err != nil:
		return o, fmt.Errorf("sqlite: organisation %s: %w", id, err)
	}
	return o, nil
}

// ListOrganisations returns every organisation, by name.
func (s *Store) ListOrganisations(ctx context.Context) ([]store.Organisation, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, name, created_at FROM organisations ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list organisations: %w", err)
	}
	defer rows.Close()
	var os []store.Organisation
	for rows.Next() {
		o, err := scanOrganisation(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list organisations: %w", err)
		}
		os = append(os, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list organisations: %w", err)
	}
	return os, nil
}

func validRole(r store.Role) bool {
	switch r {
	case store.RoleAdmin, store.RoleOrgAdmin, store.RoleAnalyst, store.RoleReader, store.RolePeer:
		return true
	}
	return false
}

// CreateUser adds a user to an existing organisation; the id and name must be new (else ErrExists).
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	switch {
	case u.ID == "" || u.Name == "" || u.OrgID == "":
		return fmt.Errorf("sqlite: create user %q: a user needs an id, a name and an organisation", u.Name)
	case !validRole(u.Role):
		return fmt.Errorf("sqlite: create user %q: unknown role %q", u.Name, u.Role)
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now()
	}
	err := s.inTx(ctx, func(w *writer) error {
		var one int
		if err := w.conn.QueryRowContext(ctx, `SELECT 1 FROM organisations WHERE id = ?`, u.OrgID).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("organisation %s: %w", u.OrgID, store.ErrNotFound)
			}
			return err
		}
		_, err := w.conn.ExecContext(ctx, `INSERT INTO users (id, name, org_id, role, disabled, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, u.ID, u.Name, u.OrgID, string(u.Role), u.Disabled, micro(u.CreatedAt))
		return err
	})
	switch {
	case isUnique(err):
		return fmt.Errorf("sqlite: user %q (id %s): %w", u.Name, u.ID, store.ErrExists)
	case err != nil:
		return fmt.Errorf("sqlite: create user %q: %w", u.Name, err)
	}
	return nil
}

const userCols = `id, name, org_id, role, disabled, created_at`

func scanUser(r rowScanner) (store.User, error) {
	var (
		u       store.User
		role    string
		created int64
	)
	err := r.Scan(&u.ID, &u.Name, &u.OrgID, &role, &u.Disabled, &created)
	u.Role, u.CreatedAt = store.Role(role), fromMicro(created)
	return u, err
}

func (s *Store) user(ctx context.Context, what, query string, arg any) (store.User, error) {
	u, err := scanUser(s.rdb.QueryRowContext(ctx, query, arg))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.User{}, fmt.Errorf("sqlite: user %s: %w", what, store.ErrNotFound)
	case err != nil:
		return store.User{}, fmt.Errorf("sqlite: user %s: %w", what, err)
	}
	return u, nil
}

// UserByName finds a user by name.
func (s *Store) UserByName(ctx context.Context, name string) (store.User, error) {
	return s.user(ctx, fmt.Sprintf("named %q", name), `SELECT `+userCols+` FROM users WHERE name = ?`, name)
}

// User finds a user by id.
func (s *Store) User(ctx context.Context, id string) (store.User, error) {
	return s.user(ctx, id, `SELECT `+userCols+` FROM users WHERE id = ?`, id)
}

// ListUsers returns every user, by name.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	defer rows.Close()
	var us []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list users: %w", err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return us, nil
}

// CreateToken stores a token of an existing user; its id and hash must be new (else ErrExists).
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	if t.ID == "" || t.UserID == "" || t.Hash == ([sha256.Size]byte{}) {
		return fmt.Errorf("sqlite: create token %q: a token needs an id, a user and a hash", t.ID)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.now()
	}
	err := s.inTx(ctx, func(w *writer) error {
		var one int
		if err := w.conn.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`, t.UserID).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("user %s: %w", t.UserID, store.ErrNotFound)
			}
			return err
		}
		_, err := w.conn.ExecContext(ctx, `INSERT INTO tokens (id, user_id, hash, created_at, expires_at, revoked_at)
			VALUES (?, ?, ?, ?, ?, ?)`, t.ID, t.UserID, t.Hash[:], micro(t.CreatedAt), micro(t.ExpiresAt), micro(t.RevokedAt))
		return err
	})
	switch {
	case isUnique(err):
		return fmt.Errorf("sqlite: token %s: %w", t.ID, store.ErrExists)
	case err != nil:
		return fmt.Errorf("sqlite: create token %s: %w", t.ID, err)
	}
	return nil
}

// TokenByHash finds a token by the SHA-256 of its secret.
func (s *Store) TokenByHash(ctx context.Context, hash [sha256.Size]byte) (store.Token, error) {
	var (
		t                         store.Token
		h                         []byte
		created, expires, revoked int64
	)
	err := s.rdb.QueryRowContext(ctx, `SELECT id, user_id, hash, created_at, expires_at, revoked_at
		FROM tokens WHERE hash = ?`, hash[:]).Scan(&t.ID, &t.UserID, &h, &created, &expires, &revoked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// The hash of a secret is not logged: it would help an attacker test guesses offline.
		return store.Token{}, fmt.Errorf("sqlite: token: %w", store.ErrNotFound)
	case err != nil:
		return store.Token{}, fmt.Errorf("sqlite: token: %w", err)
	}
	copy(t.Hash[:], h)
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = fromMicro(created), fromMicro(expires), fromMicro(revoked)
	return t, nil
}

// InitNode records the node that owns the database; it fails with ErrInitialized when one is recorded.
func (s *Store) InitNode(ctx context.Context, n store.NodeInfo) error {
	if n.ID == "" || n.OwnerOrg == "" {
		return errors.New("sqlite: init node: the node needs an id and an owner organisation")
	}
	if n.CreatedAt.IsZero() {
		n.CreatedAt = s.now()
	}
	err := s.exec(ctx, `INSERT INTO node (singleton, id, owner_org, created_at) VALUES (1, ?, ?, ?)`,
		n.ID, n.OwnerOrg, micro(n.CreatedAt))
	switch {
	case isUnique(err):
		return fmt.Errorf("sqlite: %s: %w", s.path, store.ErrInitialized)
	case err != nil:
		return fmt.Errorf("sqlite: init node: %w", err)
	}
	return nil
}

// NodeInfo returns the node's record, or ErrNotFound before InitNode.
func (s *Store) NodeInfo(ctx context.Context) (store.NodeInfo, error) {
	var (
		n       store.NodeInfo
		created int64
	)
	err := s.rdb.QueryRowContext(ctx, `SELECT id, owner_org, created_at FROM node WHERE singleton = 1`).
		Scan(&n.ID, &n.OwnerOrg, &created)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.NodeInfo{}, fmt.Errorf("sqlite: node: %w", store.ErrNotFound)
	case err != nil:
		return store.NodeInfo{}, fmt.Errorf("sqlite: node: %w", err)
	}
	n.CreatedAt = fromMicro(created)
	return n, nil
}
