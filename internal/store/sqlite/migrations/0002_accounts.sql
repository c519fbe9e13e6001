-- Sharing groups and the audit log.

-- A sharing group: a named list of organisations, possibly on other nodes. revision increases with
-- every change of membership, so a peer can tell which list it holds.
CREATE TABLE sharing_groups (
    id         TEXT PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    owner_org  TEXT    NOT NULL REFERENCES organisations (id),
    revision   INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

-- Members are organisation identity ids; they need not be organisations of this node.
CREATE TABLE sharing_group_members (
    group_id TEXT    NOT NULL REFERENCES sharing_groups (id),
    org_id   TEXT    NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, org_id)
) WITHOUT ROWID;

-- The audit log, append only. seq is gap-free and increasing (1, 2, 3…): the leaf index of a later
-- Merkle log. record holds the canonical (RFC 8785) JSON of the whole record, seq included: the bytes
-- a leaf will hash. The other columns repeat its fields for queries.
CREATE TABLE audit_log (
    seq    INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL,
    detail TEXT    NOT NULL,
    record BLOB    NOT NULL
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append only');
END;
