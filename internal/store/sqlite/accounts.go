package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
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
	err := s.exec(ctx, `INSERT INTO organisations (id, name, remote, created_at) VALUES (?, ?, ?, ?)`, o.ID, o.Name, o.Remote, micro(o.CreatedAt))
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
	err := r.Scan(&o.ID, &o.Name, &o.Remote, &created)
	o.CreatedAt = fromMicro(created)
	return o, err
}

// Organisation finds an organisation by id.
func (s *Store) Organisation(ctx context.Context, id string) (store.Organisation, error) {
	o, err := scanOrganisation(s.rdb.QueryRowContext(ctx, `SELECT id, name, remote, created_at FROM organisations WHERE id = ?`, id))
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
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, name, remote, created_at FROM organisations ORDER BY name, id`)
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
	t, err := scanToken(s.rdb.QueryRowContext(ctx, `SELECT id, user_id, hash, created_at, expires_at, revoked_at
		FROM tokens WHERE hash = ?`, hash[:]))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// The hash of a secret is not logged: it would help an attacker test guesses offline.
		return store.Token{}, fmt.Errorf("sqlite: token: %w", store.ErrNotFound)
	case err != nil:
		return store.Token{}, fmt.Errorf("sqlite: token: %w", err)
	}
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

// ListTokens returns the tokens of a user, oldest first.
func (s *Store) ListTokens(ctx context.Context, userID string) ([]store.Token, error) {
	var one int
	if err := s.rdb.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`, userID).Scan(&one); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("sqlite: tokens of user %s: %w", userID, store.ErrNotFound)
		}
		return nil, fmt.Errorf("sqlite: tokens of user %s: %w", userID, err)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, user_id, hash, created_at, expires_at, revoked_at
		FROM tokens WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tokens of user %s: %w", userID, err)
	}
	defer rows.Close()
	var ts []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: tokens of user %s: %w", userID, err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: tokens of user %s: %w", userID, err)
	}
	return ts, nil
}

func scanToken(r rowScanner) (store.Token, error) {
	var (
		t                         store.Token
		h                         []byte
		created, expires, revoked int64
	)
	if err := r.Scan(&t.ID, &t.UserID, &h, &created, &expires, &revoked); err != nil {
		return store.Token{}, err
	}
	copy(t.Hash[:], h)
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = fromMicro(created), fromMicro(expires), fromMicro(revoked)
	return t, nil
}

// RevokeToken sets a token's revocation time, unless it is revoked already.
func (s *Store) RevokeToken(ctx context.Context, tokenID string, at time.Time) error {
	if at.IsZero() {
		at = s.now()
	}
	err := s.inTx(ctx, func(w *writer) error {
		var revoked int64
		if err := w.conn.QueryRowContext(ctx, `SELECT revoked_at FROM tokens WHERE id = ?`, tokenID).Scan(&revoked); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return store.ErrNotFound
			}
			return err
		}
		if revoked != 0 {
			return nil
		}
		_, err := w.conn.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE id = ?`, micro(at), tokenID)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: revoke token %s: %w", tokenID, err)
	}
	return nil
}

// DisableUser disables a user by name; disabling a disabled user changes nothing.
func (s *Store) DisableUser(ctx context.Context, name string) error {
	err := s.inTx(ctx, func(w *writer) error {
		res, err := w.conn.ExecContext(ctx, `UPDATE users SET disabled = 1 WHERE name = ?`, name)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: disable user %q: %w", name, err)
	}
	return nil
}

// CreateGroup adds a sharing group and its initial members, at revision 1.
func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	if g.ID == "" || g.Name == "" || g.OwnerOrg == "" {
		return fmt.Errorf("sqlite: create group %q: a group needs an id, a name and an owner organisation", g.Name)
	}
	if g.CreatedAt.IsZero() {
		g.CreatedAt = s.now()
	}
	err := s.inTx(ctx, func(w *writer) error {
		var one int
		if err := w.conn.QueryRowContext(ctx, `SELECT 1 FROM organisations WHERE id = ?`, g.OwnerOrg).Scan(&one); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("owner organisation %s: %w", g.OwnerOrg, store.ErrNotFound)
			}
			return err
		}
		var n int
		if err := w.conn.QueryRowContext(ctx, `SELECT count(*) FROM sharing_groups WHERE id = ?1 OR name = ?2 OR id = ?2 OR name = ?1`,
			g.ID, g.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return store.ErrExists
		}
		if _, err := w.conn.ExecContext(ctx, `INSERT INTO sharing_groups (id, name, owner_org, revision, created_at)
			VALUES (?, ?, ?, 1, ?)`, g.ID, g.Name, g.OwnerOrg, micro(g.CreatedAt)); err != nil {
			return err
		}
		for _, m := range g.Members {
			if m == "" {
				return errors.New("a member has an empty organisation id")
			}
			if _, err := w.conn.ExecContext(ctx, `INSERT INTO sharing_group_members (group_id, org_id, added_at)
				VALUES (?, ?, ?)`, g.ID, m, micro(g.CreatedAt)); err != nil {
				if isUnique(err) {
					return fmt.Errorf("member %s is listed twice", m)
				}
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrExists) || isUnique(err):
		return fmt.Errorf("sqlite: group %q (id %s): %w", g.Name, g.ID, store.ErrExists)
	case err != nil:
		return fmt.Errorf("sqlite: create group %q: %w", g.Name, err)
	}
	return nil
}

// groupQuerier is what reading a group needs: the reader pool or the writer connection.
type groupQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const groupCols = `id, name, owner_org, revision, created_at`

func scanGroup(r rowScanner) (store.Group, error) {
	var (
		g       store.Group
		created int64
	)
	err := r.Scan(&g.ID, &g.Name, &g.OwnerOrg, &g.Revision, &created)
	g.CreatedAt = fromMicro(created)
	return g, err
}

// groupMembers fills in the members of gs, in the order they were added.
func groupMembers(ctx context.Context, q groupQuerier, gs []store.Group) error {
	for i := range gs {
		rows, err := q.QueryContext(ctx, `SELECT org_id FROM sharing_group_members WHERE group_id = ? ORDER BY added_at, org_id`, gs[i].ID)
		if err != nil {
			return err
		}
		gs[i].Members = nil
		for rows.Next() {
			var m string
			if err := rows.Scan(&m); err != nil {
				rows.Close()
				return err
			}
			gs[i].Members = append(gs[i].Members, m)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
	}
	return nil
}

// Group finds a sharing group by id, else by name.
func (s *Store) Group(ctx context.Context, idOrName string) (store.Group, error) {
	g, err := scanGroup(s.rdb.QueryRowContext(ctx, `SELECT `+groupCols+` FROM sharing_groups
		WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1`, idOrName))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Group{}, fmt.Errorf("sqlite: group %q: %w", idOrName, store.ErrNotFound)
	case err != nil:
		return store.Group{}, fmt.Errorf("sqlite: group %q: %w", idOrName, err)
	}
	gs := []store.Group{g}
	if err := groupMembers(ctx, s.rdb, gs); err != nil {
		return store.Group{}, fmt.Errorf("sqlite: group %q: members: %w", idOrName, err)
	}
	return gs[0], nil
}

// AddGroupMember adds an organisation to a group and increments the group's revision.
func (s *Store) AddGroupMember(ctx context.Context, group, orgID string) error {
	if orgID == "" {
		return fmt.Errorf("sqlite: add member to group %q: empty organisation id", group)
	}
	err := s.inTx(ctx, func(w *writer) error {
		var id string
		if err := w.conn.QueryRowContext(ctx, `SELECT id FROM sharing_groups WHERE id = ?1 OR name = ?1
			ORDER BY id = ?1 DESC LIMIT 1`, group).Scan(&id); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("group %q: %w", group, store.ErrNotFound)
			}
			return err
		}
		if _, err := w.conn.ExecContext(ctx, `INSERT INTO sharing_group_members (group_id, org_id, added_at)
			VALUES (?, ?, ?)`, id, orgID, micro(s.now())); err != nil {
			if isUnique(err) {
				return fmt.Errorf("%s is a member already: %w", orgID, store.ErrExists)
			}
			return err
		}
		_, err := w.conn.ExecContext(ctx, `UPDATE sharing_groups SET revision = revision + 1 WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: add member to group %q: %w", group, err)
	}
	return nil
}

// ListGroups returns every sharing group with its members, by name.
func (s *Store) ListGroups(ctx context.Context) ([]store.Group, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+groupCols+` FROM sharing_groups ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list groups: %w", err)
	}
	var gs []store.Group
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: list groups: %w", err)
		}
		gs = append(gs, g)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("sqlite: list groups: %w", err)
	}
	if err := groupMembers(ctx, s.rdb, gs); err != nil {
		return nil, fmt.Errorf("sqlite: list groups: members: %w", err)
	}
	return gs, nil
}

// auditJSON is the canonical form of an audit record. Its field names are part of the log's format:
// changing them changes every leaf hash.
type auditJSON struct {
	Seq    int64  `json:"seq"`
	At     string `json:"at"` // RFC 3339, UTC, microseconds
	Actor  string `json:"actor"`
	Action string `json:"action"`
	Target string `json:"target"`
	Detail string `json:"detail"`
}

// auditTime is the text of an audit time: UTC with microseconds, as the store keeps it.
func auditTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// canonicalAudit returns the RFC 8785 JSON of r.
func canonicalAudit(r store.AuditRecord) ([]byte, error) {
	b, err := json.Marshal(auditJSON{Seq: r.Seq, At: auditTime(r.At), Actor: r.Actor, Action: r.Action, Target: r.Target, Detail: r.Detail})
	if err != nil {
		return nil, err
	}
	v := jsontext.Value(b)
	if err := v.Canonicalize(); err != nil {
		return nil, err
	}
	return v, nil
}

// AppendAudit appends r to the audit log with the next sequence number.
func (s *Store) AppendAudit(ctx context.Context, r store.AuditRecord) (store.AuditRecord, error) {
	if r.Actor == "" || r.Action == "" {
		return store.AuditRecord{}, fmt.Errorf("sqlite: append audit %q: a record needs an actor and an action", r.Action)
	}
	var out store.AuditRecord
	err := s.rawTx(ctx, func(w *writer) error {
		var err error
		out, err = s.appendAudit(ctx, w, r)
		return err
	})
	if err != nil {
		return store.AuditRecord{}, fmt.Errorf("sqlite: append audit %q: %w", r.Action, err)
	}
	return out, nil
}

// appendAudit appends a record inside the caller's transaction.
func (s *Store) appendAudit(ctx context.Context, w *writer, r store.AuditRecord) (store.AuditRecord, error) {
	if r.Actor == "" || r.Action == "" {
		return r, fmt.Errorf("audit %q: a record needs an actor and an action", r.Action)
	}
	if r.At.IsZero() {
		r.At = s.now()
	}
	r.At = fromMicro(micro(r.At)) // the precision the store keeps, so the canonical bytes match a re-read
	if err := w.conn.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) + 1 FROM audit_log`).Scan(&r.Seq); err != nil {
		return r, err
	}
	c, err := canonicalAudit(r)
	if err != nil {
		return r, err
	}
	r.Canonical = c
	_, err = w.conn.ExecContext(ctx, `INSERT INTO audit_log (seq, at, actor, action, target, detail, record)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, r.Seq, micro(r.At), r.Actor, r.Action, r.Target, r.Detail, r.Canonical)
	return r, err
}

// ListAudit returns up to limit records after the sequence number after, in order.
func (s *Store) ListAudit(ctx context.Context, after int64, limit int) ([]store.AuditRecord, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("sqlite: list audit: limit %d must be positive", limit)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT seq, at, actor, action, target, detail, record FROM audit_log
		WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	defer rows.Close()
	var rs []store.AuditRecord
	for rows.Next() {
		var (
			r  store.AuditRecord
			at int64
		)
		if err := rows.Scan(&r.Seq, &at, &r.Actor, &r.Action, &r.Target, &r.Detail, &r.Canonical); err != nil {
			return nil, fmt.Errorf("sqlite: list audit: %w", err)
		}
		r.At = fromMicro(at)
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	return rs, nil
}
