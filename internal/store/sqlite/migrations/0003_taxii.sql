-- TAXII: who may read and write each collection, and the status resources of POSTed objects.

-- A grant gives one subject (an organisation, a sharing group or a user, by id) read and/or write
-- access to a collection. The policy (policy.CollectionAccess) decides from every grant that
-- matches a viewer.
CREATE TABLE collection_grants (
    cid       INTEGER NOT NULL REFERENCES collections (cid),
    kind      TEXT    NOT NULL CHECK (kind IN ('org', 'group', 'user')),
    subject   TEXT    NOT NULL,
    can_read  INTEGER NOT NULL,
    can_write INTEGER NOT NULL,
    PRIMARY KEY (cid, kind, subject)
) WITHOUT ROWID;

-- TAXII status resources, as sent, for the user who made the request. Kept at least 24 hours.
CREATE TABLE taxii_status (
    id         TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    body       BLOB    NOT NULL
);
CREATE INDEX taxii_status_created ON taxii_status (created_at);
