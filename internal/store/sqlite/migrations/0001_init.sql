-- renkei SQLite schema, version 1.
--
-- Times are integers: microseconds since the Unix epoch, UTC.
-- The foreign keys of the object tables are checked at commit (DEFERRABLE INITIALLY DEFERRED): a
-- batch's multi-row INSERTs then need no statement journal, which makes them much cheaper.
-- Objects are referred to inside the database by integer row ids (oid for an object, vid for one of
-- its versions); the STIX id text is stored once, in objects.

-- The node that owns this database: at most one row.
CREATE TABLE node (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    id         TEXT    NOT NULL,
    owner_org  TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- One row per STIX id, kept up to date by every write in the same transaction, so that the latest
-- version and the revocation of an object are one lookup away.
CREATE TABLE objects (
    oid          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    type         TEXT    NOT NULL,
    latest_vid   INTEGER NOT NULL, -- the version with the greatest version_key
    latest_key   TEXT    NOT NULL,
    revoked      INTEGER NOT NULL DEFAULT 0, -- 1 once any version has revoked = true
    revoked_key  TEXT,                       -- the earliest revoked version's key; NULL when not revoked
    first_stored INTEGER NOT NULL
);

-- Every version of every object. vid is the store's global sequence: it increases with every version
-- stored, and stored_at (microseconds) strictly increases with it.
CREATE TABLE object_versions (
    vid            INTEGER PRIMARY KEY,
    oid            INTEGER NOT NULL REFERENCES objects (oid) DEFERRABLE INITIALLY DEFERRED,
    version_key    TEXT    NOT NULL, -- stix.Timestamp.Key of modified, else created, else ''
    spec_version   TEXT    NOT NULL,
    created        TEXT    NOT NULL, -- text as received; '' when absent
    modified       TEXT    NOT NULL, -- text as received; '' when absent
    created_by_ref TEXT    NOT NULL, -- '' when absent
    revoked        INTEGER NOT NULL,
    confidence     INTEGER,          -- NULL when absent
    digest         BLOB    NOT NULL, -- SHA-256 of the RFC 8785 canonical form
    stored_at      INTEGER NOT NULL,
    raw            BLOB    NOT NULL  -- the bytes as received; last, so reading other columns skips it
);
CREATE UNIQUE INDEX object_versions_key ON object_versions (oid, version_key);

CREATE TABLE collections (
    cid             INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL UNIQUE,
    alias           TEXT UNIQUE, -- NULL when none
    title           TEXT    NOT NULL,
    description     TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    last_date_added INTEGER NOT NULL DEFAULT 0 -- the greatest date_added given in this collection
);

-- Membership of object versions in collections. seq records the order of insertion; date_added
-- strictly increases with it within a collection.
CREATE TABLE collection_objects (
    seq        INTEGER PRIMARY KEY,
    cid        INTEGER NOT NULL REFERENCES collections (cid) DEFERRABLE INITIALLY DEFERRED,
    vid        INTEGER NOT NULL REFERENCES object_versions (vid) DEFERRABLE INITIALLY DEFERRED,
    date_added INTEGER NOT NULL
);
CREATE UNIQUE INDEX collection_objects_order ON collection_objects (cid, date_added);
CREATE UNIQUE INDEX collection_objects_member ON collection_objects (vid, cid);

-- Edges (stix.Object.Edges) of each version, for graph walks. source is '' when it is the version's
-- own object (every reference property but a relationship's source_ref): only the other sources need
-- an index. Targets are found through target_hash, the 64-bit FNV-1a of target as a signed integer:
-- a small key keeps this randomly written index cheap; queries compare target itself too.
CREATE TABLE relationships (
    vid         INTEGER NOT NULL, -- object_versions (vid): Check verifies it; a foreign key costs 15% of a write
    source      TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    target_hash INTEGER NOT NULL
);
CREATE INDEX relationships_vid ON relationships (vid);
CREATE INDEX relationships_target ON relationships (target_hash);
CREATE INDEX relationships_source ON relationships (source) WHERE source != '';

-- Normalised observable values (stix.Object.Observables) of each version, found through hash, the
-- 64-bit FNV-1a of kind, a NUL byte and value, as a signed integer; queries compare kind and value too.
CREATE TABLE observables (
    vid   INTEGER NOT NULL, -- object_versions (vid): Check verifies it
    kind  TEXT    NOT NULL,
    value TEXT    NOT NULL,
    hash  INTEGER NOT NULL
);
CREATE INDEX observables_value ON observables (hash);

CREATE TABLE organisations (
    id         TEXT PRIMARY KEY,
    name       TEXT    NOT NULL,
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
