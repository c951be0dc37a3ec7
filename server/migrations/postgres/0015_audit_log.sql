-- The audit log (issue 17, part 5; server/src/audit.rs): one row per change made
-- through the API (later the dashboard too) — who, what, which object, when and
-- from where — written in the transaction of the change itself. Append-only: the
-- database refuses edits, deletions and truncation, as for ledger rows.
CREATE TABLE audit_log (
    seq         BIGSERIAL PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    app_id      TEXT    REFERENCES apps (id),
    actor_type  TEXT    NOT NULL,
    actor_id    TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    object_id   TEXT,
    status      INTEGER NOT NULL,
    ip          TEXT,
    request_id  TEXT,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX audit_log_by_app ON audit_log (app_id, seq);

CREATE FUNCTION dots_refuse_audit_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_is_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION dots_refuse_audit_edit();
CREATE TRIGGER audit_log_is_never_truncated BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION dots_refuse_audit_edit();
