-- The ACH rail (issue 19, parts 2 and 4; server/src/ach_rail.rs). At each cut-off the
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

-- One row per Entry Detail: a payout (credit), a refill (debit from the app's
-- funding account) or a pre-note (a zero-dollar debit proving that account).
CREATE TABLE ach_entries (
    seq            BIGSERIAL PRIMARY KEY,
    file_id        TEXT    NOT NULL REFERENCES ach_files (id),
    kind           TEXT    NOT NULL CHECK (kind IN ('payout', 'refill', 'prenote')),
    transfer_id    TEXT    UNIQUE REFERENCES transfers (id),
    app_id         TEXT    NOT NULL,
    trace          TEXT    NOT NULL,
    amount         BIGINT NOT NULL CHECK (amount >= 0),
    return_code    TEXT,
    returned_at    BIGINT,
    created_at     BIGINT NOT NULL,
    CHECK ((kind = 'prenote') = (transfer_id IS NULL))
);
CREATE INDEX ach_entries_by_trace ON ach_entries (trace, seq);
CREATE INDEX ach_entries_by_file ON ach_entries (file_id, seq);

-- A live app's funding account (issue 19, part 4): the bank account its refills
-- are debited from, its details sealed. Proven by a pre-note: `unverified` until
-- the next cut-off sends one, `prenote_sent` until that file settles with no
-- return for it (`verified`), `failed` when the bank returns it.
CREATE TABLE funding_accounts (
    seq               BIGSERIAL PRIMARY KEY,
    app_id            TEXT    NOT NULL UNIQUE REFERENCES apps (id),
    details_encrypted TEXT    NOT NULL,
    display           TEXT    NOT NULL,
    holder_name       TEXT    NOT NULL,
    status            TEXT    NOT NULL CHECK (status IN ('unverified', 'prenote_sent', 'verified', 'failed')),
    prenote_trace     TEXT,
    return_code       TEXT,
    verified_at       BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
