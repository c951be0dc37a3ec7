-- The operator's console (issue 18, part 1): an app the operator suspended answers
-- its API with 403 app_suspended, its links and flows say payouts are paused, and
-- its webhooks wait (server/src/apps.rs). NULL: the app is active.
ALTER TABLE apps ADD COLUMN suspended_at INTEGER;
ALTER TABLE apps ADD COLUMN suspended_reason TEXT;

-- The operator's dashboard sessions: signed in with the operator key, then a
-- cookie like a member's (only its hash is kept; server/src/operator.rs).
CREATE TABLE operator_sessions (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT    NOT NULL UNIQUE,
    token_hash    TEXT    NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);
