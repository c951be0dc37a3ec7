-- The ACH rail (issue 19, part 2; server/src/ach_rail.rs). At each cut-off the
-- live apps' waiting bank payouts are gathered into one NACHA file: the file (its
-- text sealed: it holds account numbers) and one row per entry, with the trace
-- number a return names it by. A file is settled by the operator or after
-- DOTS_ACH_SETTLE_DAYS banking days; a return marks its entry, once.
CREATE TABLE ach_files (
    seq              BIGSERIAL PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    file_id_modifier TEXT    NOT NULL,
    creation_day     BIGINT NOT NULL,
    effective_day    BIGINT NOT NULL,
    first_trace      BIGINT NOT NULL,
    last_trace       BIGINT NOT NULL,
    entries          BIGINT NOT NULL,
    credit_total     BIGINT NOT NULL,
    debit_total      BIGINT NOT NULL,
    text_encrypted   TEXT    NOT NULL,
    settled_at       BIGINT,
    created_at       BIGINT NOT NULL
);

CREATE TABLE ach_entries (
    seq          BIGSERIAL PRIMARY KEY,
    file_id      TEXT    NOT NULL REFERENCES ach_files (id),
    transfer_id  TEXT    NOT NULL UNIQUE REFERENCES transfers (id),
    app_id       TEXT    NOT NULL,
    trace        TEXT    NOT NULL,
    amount       BIGINT NOT NULL CHECK (amount >= 0),
    credit       BIGINT NOT NULL CHECK (credit IN (0, 1)),
    return_code  TEXT,
    returned_at  BIGINT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX ach_entries_by_trace ON ach_entries (trace, seq);
CREATE INDEX ach_entries_by_file ON ach_entries (file_id, seq);
