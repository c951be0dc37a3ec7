-- Two-factor sign-in for the dashboard (issue 17, part 2; server/src/members.rs):
-- a TOTP secret (RFC 6238), sealed; when it was confirmed; the last 30-second step
-- a code was accepted for (a code works once); and single-use recovery codes, hashed.
ALTER TABLE members ADD COLUMN totp_secret_encrypted TEXT;
ALTER TABLE members ADD COLUMN totp_enabled_at INTEGER;
ALTER TABLE members ADD COLUMN totp_last_step INTEGER;

CREATE TABLE member_recovery_codes (
    member_id   TEXT    NOT NULL REFERENCES members (id),
    code_hash   TEXT    NOT NULL,
    used_at     INTEGER,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (member_id, code_hash)
);
