-- An app's team (issue 17, part 2; server/src/members.rs): people who sign in to the
-- dashboard with an email and a password (argon2id), each with a role per app.
CREATE TABLE members (
    seq              BIGSERIAL PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    -- Lower-cased; one account per address, whatever apps it belongs to.
    email            TEXT    NOT NULL UNIQUE,
    -- An argon2id PHC string; never the password.
    password_hash    TEXT    NOT NULL,
    -- Wrong passwords in a row, and until when sign-in is refused after too many.
    failed_sign_ins  INTEGER NOT NULL DEFAULT 0,
    locked_until     BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

-- A member's role in an app: owner, admin, reviewer or viewer.
CREATE TABLE memberships (
    member_id   TEXT    NOT NULL REFERENCES members (id),
    app_id      TEXT    NOT NULL REFERENCES apps (id),
    role        TEXT    NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (member_id, app_id)
);
CREATE INDEX memberships_by_app ON memberships (app_id);

-- An invitation to join an app with a role: a single-use link that expires. Only
-- its token's SHA-256 is kept.
CREATE TABLE member_invitations (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    app_id       TEXT    NOT NULL REFERENCES apps (id),
    email        TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    invited_by   TEXT    NOT NULL,
    expires_at   BIGINT NOT NULL,
    accepted_at  BIGINT,
    created_at   BIGINT NOT NULL
);

-- A signed-in browser: the session cookie's SHA-256, its idle and absolute limits.
CREATE TABLE member_sessions (
    seq           BIGSERIAL PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    token_hash    TEXT    NOT NULL UNIQUE,
    member_id     TEXT    NOT NULL REFERENCES members (id),
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);
CREATE INDEX member_sessions_by_member ON member_sessions (member_id);
