-- renkei SQLite schema, version 1.
--
-- Times are integers: microseconds since the Unix epoch, UTC.
--
-- The object tables are shaped for fast, durable imports (see the package documentation): a new
-- object costs one appended row and one small, randomly placed key; the only other randomly placed
-- keys are those of the edges and observables it carries. Every random key is a 64-bit FNV-1a hash
-- (as a signed integer) in a WITHOUT ROWID table of (hash, reference): small entries, so that a batch
-- dirties few pages, and inserted in key order. Queries compare the hashed text itself too, so a
-- hash collision costs a lookup, never a wrong answer. The object tables declare no foreign keys:
-- one writer decides every row in Go, and Check verifies what a foreign key would.

-- The node that owns this database: at most one row.
CREATE TABLE node (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    id         TEXT    NOT NULL,
    owner_org  TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- Every form of every version of every object. A version is identified by (id, version_key,
-- spec_version): the same version may be held as a STIX 2.0 form and a 2.1 form, with different bytes.
-- vid is the store's global sequence: it increases with every form stored, and stored_at
-- (microseconds) strictly increases with it. Rows are only appended, except that latest and
-- spec_latest move to a form that arrives later and ranks higher. Go decides the identity (no
-- unique index holds it): Write reads the stored forms of the batch's ids first.
CREATE TABLE object_versions (
    vid            INTEGER PRIMARY KEY,
    id_hash        INTEGER NOT NULL, -- fnv64 of id, as in id_keys
    latest         INTEGER NOT NULL, -- 1 on the one form of its id with the greatest (version_key, spec_version)
    spec_latest    INTEGER NOT NULL, -- 1 on the one form of its (id, version_key) with the greatest spec_version
    revoked        INTEGER NOT NULL, -- this form's revoked property
    version_key    TEXT    NOT NULL, -- stix.Timestamp.Key of modified, else created, else ''
    id             TEXT    NOT NULL,
    type           TEXT    NOT NULL,
    spec_version   TEXT    NOT NULL, -- '2.1', or '2.0' (as stix.Object.SpecVersion: '2.0' when absent, but on SCOs)
    created        TEXT    NOT NULL, -- text as received; '' when absent
    modified       TEXT    NOT NULL, -- text as received; '' when absent
    created_by_ref TEXT    NOT NULL, -- '' when absent
    confidence     INTEGER,          -- NULL when absent
    digest         BLOB    NOT NULL, -- SHA-256 of the RFC 8785 canonical form
    stored_at      INTEGER NOT NULL,
    edges          BLOB,             -- the version's edges but created_by_ref and object_marking_refs (see edges.go); NULL when none
    observables    BLOB,             -- the version's observables (see edges.go); NULL when none
    cell           INTEGER NOT NULL, -- this form's label (store.Label): the policy's cell
    grp            TEXT    NOT NULL, -- this form's label: its sharing group, or ''
    obj_cell       INTEGER NOT NULL, -- the label of the object's latest form (store.ObjectLabel)…
    obj_grp        TEXT    NOT NULL,
    obj_owner      TEXT    NOT NULL, -- …and that form's created_by_ref
    raw            BLOB    NOT NULL  -- the bytes as received; last, so reading other columns skips it
);

-- Finds the forms of an id: hash is fnv64(id).
CREATE TABLE id_keys (
    hash INTEGER NOT NULL,
    vid  INTEGER NOT NULL,
    PRIMARY KEY (hash, vid)
) WITHOUT ROWID;

-- Finds the edges to or from an id. For edge n (0-based) of version vid's edges: one key with the
-- hash of its target and ref = vid << 21 | n << 1, and, when its source is not the version's own
-- object (a relationship's source_ref), one with the hash of its source and ref = vid << 21 | n << 1 | 1.
CREATE TABLE edge_keys (
    hash INTEGER NOT NULL,
    ref  INTEGER NOT NULL,
    PRIMARY KEY (hash, ref)
) WITHOUT ROWID;

-- Finds the versions carrying an observable: for observable n of version vid's observables, hash is
-- fnv64 of kind, a NUL byte and value, and ref = vid << 20 | n.
CREATE TABLE observable_keys (
    hash INTEGER NOT NULL,
    ref  INTEGER NOT NULL,
    PRIMARY KEY (hash, ref)
) WITHOUT ROWID;

-- Distinct ids per type, and how many of them are revoked (an object is revoked once any of its
-- versions is). Kept up to date by every write, in the same transaction.
CREATE TABLE object_counts (
    type    TEXT    PRIMARY KEY,
    objects INTEGER NOT NULL,
    revoked INTEGER NOT NULL
) WITHOUT ROWID;

-- The forms whose label treated a marking definition as unknown (the store did not hold it, or could
-- not trust it): when a marking definition with that id is written, they are labelled again.
CREATE TABLE label_pending (
    marking TEXT    NOT NULL,
    vid     INTEGER NOT NULL,
    PRIMARY KEY (marking, vid)
) WITHOUT ROWID;

CREATE TABLE collections (
    cid             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    alias           TEXT UNIQUE, -- NULL when none
    title           TEXT    NOT NULL,
    description     TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    last_date_added INTEGER NOT NULL DEFAULT 0 -- the greatest date_added given in this collection
);

-- Membership of object versions in collections. date_added strictly increases, within a collection,
-- in the order versions are added, so it orders and pages the collection on its own.
CREATE TABLE collection_objects (
    cid        INTEGER NOT NULL, -- collections (cid)
    date_added INTEGER NOT NULL,
    vid        INTEGER NOT NULL, -- object_versions (vid)
    PRIMARY KEY (cid, date_added)
) WITHOUT ROWID;
CREATE UNIQUE INDEX collection_objects_member ON collection_objects (vid, cid);

CREATE TABLE organisations (
    id         TEXT PRIMARY KEY,
    name       TEXT    NOT NULL,
    remote     INTEGER NOT NULL, -- 1: hosted on another node
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    org_id     TEXT    NOT NULL REFERENCES organisations (id),
    role       TEXT    NOT NULL,
    disabled   INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- API tokens: only the SHA-256 of the secret is kept.
CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id),
    hash       BLOB    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL, -- 0: does not expire
    revoked_at INTEGER NOT NULL  -- 0: not revoked
);
