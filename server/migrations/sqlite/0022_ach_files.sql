-- The ACH rail (issue 19, part 2; server/src/ach_rail.rs). At each cut-off the
-- live apps' waiting bank payouts are gathered into one NACHA file: the file (its
-- text sealed: it holds account numbers) and one row per entry, with the trace
-- number a return names it by. A file is settled by the operator or after
-- DOTS_ACH_SETTLE_DAYS banking days; a return marks its entry, once.
CREATE TABLE ach_files (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT    NOT NULL UNIQUE,
    file_id_modifier TEXT    NOT NULL,
    creation_day     INTEGER NOT NULL,
    effective_day    INTEGER NOT NULL,
    first_trace      INTEGER NOT NULL,
    last_trace       INTEGER NOT NULL,
    entries          INTEGER NOT NULL,
    credit_total     INTEGER NOT NULL,
    debit_total      INTEGER NOT NULL,
    text_encrypted   TEXT    NOT NULL,
    settled_at       INTEGER,
    created_at       INTEGER NOT NULL
);

CREATE TABLE ach_entries (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id      TEXT    NOT NULL REFERENCES ach_files (id),
    transfer_id  TEXT    NOT NULL UNIQUE REFERENCES transfers (id),
    app_id       TEXT    NOT NULL,
    trace        TEXT    NOT NULL,
    amount       INTEGER NOT NULL CHECK (amount >= 0),
    credit       INTEGER NOT NULL CHECK (credit IN (0, 1)),
    return_code  TEXT,
    returned_at  INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE INDEX ach_entries_by_trace ON ach_entries (trace, seq);
CREATE INDEX ach_entries_by_file ON ach_entries (file_id, seq);
