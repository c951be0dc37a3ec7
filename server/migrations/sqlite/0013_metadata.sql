-- The app's own notes (issue 16, part 6): a bounded JSON object of strings on users,
-- transfers, payout links and flows (server/src/metadata.rs); lists filter on it.
ALTER TABLE users ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE transfers ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE payout_links ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE flows ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
