-- removals counts the statements that removed objects from a collection, so that a process keeping
-- the collection's members in memory (the read cache) sees a removal made by another process.
ALTER TABLE collections ADD COLUMN removals INTEGER NOT NULL DEFAULT 0;
