-- Which prefix lengths the CIDR blocks among stored observables have.
--
-- Correlation looks up, for each IP address of a report, the stored blocks that could contain it:
-- without this summary, one block per length (/0 to /31, or /127), most of them of lengths nobody
-- stores. Every write adds the lengths of the blocks its new forms carry, in the same transaction as
-- their rows (block_lengths.go). Rows are never removed: a length may outlive the forms that carried
-- it, which costs a lookup that finds nothing, never a missed block. The summary names lengths only,
-- never a value or who stored it, and is not shown to users.
CREATE TABLE observable_block_lengths (
    kind TEXT    NOT NULL, -- ipv4-addr or ipv6-addr
    bits INTEGER NOT NULL,
    PRIMARY KEY (kind, bits)
) WITHOUT ROWID;

-- Present (one row) when observable_block_lengths covers every stored form. A database that held
-- observables before this migration gets it from a back-fill at Open, in the transaction that adds
-- their lengths; until then correlation looks up every length.
CREATE TABLE observable_block_lengths_complete (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1)
);
INSERT INTO observable_block_lengths_complete (singleton)
    SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM observable_keys);
