-- The CIDR blocks among stored observables themselves (ipv4-addr and ipv6-addr values with a /).
--
-- Correlation asks, for each IP address of a report, which stored blocks contain it. The index of
-- observables is keyed by hashes and cannot answer that: without this table a check looks up every
-- block that could contain each address (one per stored length, observable_block_lengths), most of
-- which nobody stored. With it, a check reads the stored blocks (a few thousand in a store of 10M
-- observables), finds those that contain the report's addresses in memory, and looks up only them
-- in the index, which still decides who may read which form. Every write adds the blocks its new
-- forms carry, in the same transaction as their rows (blocks.go). Rows are never removed: a block
-- may outlive the forms that carried it, which costs a lookup that finds nothing, never a missed
-- block. The table is an internal hint, never shown to users: it names values, not who stored them.
CREATE TABLE observable_blocks (
    kind  TEXT NOT NULL, -- ipv4-addr or ipv6-addr
    value TEXT NOT NULL, -- as stored
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;

-- Present (one row) when observable_blocks covers every stored form. A database that held
-- observables before this migration gets it from a back-fill at Open, in the transaction that adds
-- their blocks; until then correlation looks up every block of a stored length.
CREATE TABLE observable_blocks_complete (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1)
);
INSERT INTO observable_blocks_complete (singleton)
    SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM observable_keys);
