-- Two schema changes that make every SQLite insert cheaper, neither touching a row.
--
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
-- (`SqliteRuns::EditingSchema` in `store::migrations`).
UPDATE sqlite_schema
   SET sql = replace(sql, 'PRIMARY KEY AUTOINCREMENT', 'PRIMARY KEY')
 WHERE type = 'table' AND sql LIKE '%PRIMARY KEY AUTOINCREMENT%';
DELETE FROM sqlite_sequence;

-- The same for CHECK constraints that test a column against a list of three or
-- more values: SQLite checks `kind IN ('balance', 'payout', 'refill')` by
-- building a temporary index of the list for every row it writes (a B-tree
-- opened, filled and dropped per inserted transfer). The same test written as
-- comparisons joined by OR is code only. Existing rows pass both, so the stored
-- data is unchanged. New constraints on SQLite are written with OR.
UPDATE sqlite_schema
   SET sql = replace(replace(replace(replace(replace(replace(replace(sql,
       'kind IN (''balance'', ''payout'', ''refill'')',
       '(kind = ''balance'' OR kind = ''payout'' OR kind = ''refill'')'),
       'kind IN (''bank'', ''paypal'', ''venmo'')',
       '(kind = ''bank'' OR kind = ''paypal'' OR kind = ''venmo'')'),
       'delivery_method IN (''none'', ''sms'', ''email'')',
       '(delivery_method = ''none'' OR delivery_method = ''sms'' OR delivery_method = ''email'')'),
       'delivery_status IN (''pending'', ''sent'', ''failed'')',
       '(delivery_status = ''pending'' OR delivery_status = ''sent'' OR delivery_status = ''failed'')'),
       'kind IN (''app_wallet'', ''user_wallet'', ''refill_source'', ''payout_clearing'', ''external_payouts'', ''fee_revenue'')',
       '(kind = ''app_wallet'' OR kind = ''user_wallet'' OR kind = ''refill_source'' OR kind = ''payout_clearing''
         OR kind = ''external_payouts'' OR kind = ''fee_revenue'')'),
       'kind IN (''payout'', ''refill'', ''prenote'')',
       '(kind = ''payout'' OR kind = ''refill'' OR kind = ''prenote'')'),
       'status IN (''unverified'', ''prenote_sent'', ''verified'', ''failed'')',
       '(status = ''unverified'' OR status = ''prenote_sent'' OR status = ''verified'' OR status = ''failed'')')
 WHERE type = 'table'
   AND name IN ('transfers', 'payout_methods', 'payout_links', 'accounts', 'ach_entries', 'funding_accounts');
