-- Every table's `seq INTEGER PRIMARY KEY` without AUTOINCREMENT. AUTOINCREMENT
-- makes SQLite read and rewrite its `sqlite_sequence` table in every statement
-- that inserts (a scan of its rows, then a B-tree write, and one more page in
-- the log at each commit: BENCHMARKS.md, `bench instructions`). It only differs
-- from a plain rowid key when the newest row of a table is deleted, whose number a
-- plain key would hand out again; no row of these tables is ever deleted (the
-- ledger is append-only, the rest is ended by status), so `seq` still grows with
-- every row, as on PostgreSQL (identity columns). A table whose rows may be
-- deleted must say AUTOINCREMENT in its own migration.
--
-- The table's data is untouched (the same B-tree, the same rows): only the
-- schema's text changes, SQLite's documented procedure for a change that leaves
-- the stored format alone. The migration runner turns `writable_schema` on around
-- this script, bumps the schema version (other connections reload the schema)
-- and reloads it on its own connection before committing
-- (`Migration::sqlite_edits_schema`).
UPDATE sqlite_schema
   SET sql = replace(sql, 'PRIMARY KEY AUTOINCREMENT', 'PRIMARY KEY')
 WHERE type = 'table' AND sql LIKE '%PRIMARY KEY AUTOINCREMENT%';
DELETE FROM sqlite_sequence;
