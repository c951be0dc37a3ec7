-- Password resets for the dashboard (issue 17, part 2; server/src/members.rs): a
-- single-use link by email that works for an hour. Only its token's SHA-256 is kept.
CREATE TABLE member_password_resets (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    member_id    TEXT    NOT NULL REFERENCES members (id),
    token_hash   TEXT    NOT NULL UNIQUE,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE INDEX member_password_resets_by_member ON member_password_resets (member_id);
