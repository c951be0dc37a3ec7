-- Apps, users, the double-entry ledger, transfers, outbox events and idempotency keys.
-- Ids are prefixed random strings; `seq` orders lists (newest first) and cursors.
-- Timestamps are integer milliseconds since the Unix epoch. Amounts are integer minor units.

CREATE TABLE apps (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL,
    client_id    TEXT    NOT NULL UNIQUE,
    secret_hash  TEXT    NOT NULL,
    currency     TEXT    NOT NULL,
    wallet_id    TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);

-- Every balance lives here. Wallets may never go below zero; system accounts
-- (refill_source, payout_clearing, external_payouts) carry the other side.
CREATE TABLE accounts (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    kind         TEXT    NOT NULL CHECK (kind IN ('app_wallet', 'user_wallet', 'refill_source', 'payout_clearing', 'external_payouts')),
    app_id       TEXT,
    user_id      TEXT,
    currency     TEXT    NOT NULL,
    balance      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    CHECK (kind NOT IN ('app_wallet', 'user_wallet') OR balance >= 0)
);

CREATE TABLE users (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    id                TEXT    NOT NULL UNIQUE,
    app_id            TEXT    NOT NULL REFERENCES apps (id),
    first_name        TEXT    NOT NULL,
    last_name         TEXT    NOT NULL,
    email             TEXT    NOT NULL,
    phone_number      TEXT    NOT NULL,
    phone_verified_at INTEGER,
    wallet_id         TEXT    NOT NULL REFERENCES accounts (id),
    created_at        INTEGER NOT NULL,
    UNIQUE (app_id, phone_number)
);
CREATE INDEX users_by_app ON users (app_id, seq);

CREATE TABLE transfers (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    app_id       TEXT    NOT NULL REFERENCES apps (id),
    user_id      TEXT    REFERENCES users (id),
    kind         TEXT    NOT NULL CHECK (kind IN ('balance', 'payout', 'refill')),
    direction    TEXT    CHECK (direction IN ('app_to_user', 'user_to_app')),
    status       TEXT    NOT NULL,
    amount       INTEGER NOT NULL CHECK (amount > 0),
    currency     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX transfers_by_app ON transfers (app_id, seq);
CREATE INDEX transfers_by_user ON transfers (user_id, status);

CREATE TABLE transfer_status_changes (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    transfer_id  TEXT    NOT NULL REFERENCES transfers (id),
    from_status  TEXT,
    to_status    TEXT    NOT NULL,
    reason       TEXT,
    created_at   INTEGER NOT NULL
);
CREATE INDEX status_changes_by_transfer ON transfer_status_changes (transfer_id, seq);

-- A transaction moves `amount` between two accounts; its entries are the two legs.
CREATE TABLE transactions (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    app_id       TEXT    NOT NULL REFERENCES apps (id),
    transfer_id  TEXT    NOT NULL REFERENCES transfers (id),
    kind         TEXT    NOT NULL,
    amount       INTEGER NOT NULL CHECK (amount > 0),
    currency     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX transactions_by_app ON transactions (app_id, seq);
CREATE INDEX transactions_by_transfer ON transactions (transfer_id);

CREATE TABLE entries (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id TEXT    NOT NULL REFERENCES transactions (id),
    account_id     TEXT    NOT NULL REFERENCES accounts (id),
    amount         INTEGER NOT NULL CHECK (amount <> 0),
    currency       TEXT    NOT NULL
);
CREATE INDEX entries_by_account ON entries (account_id);
CREATE INDEX entries_by_transaction ON entries (transaction_id);

-- The ledger is append-only: the database itself refuses edits and deletions.
CREATE TRIGGER transactions_are_immutable_u BEFORE UPDATE ON transactions
BEGIN SELECT RAISE(ABORT, 'ledger transactions are immutable'); END;
CREATE TRIGGER transactions_are_immutable_d BEFORE DELETE ON transactions
BEGIN SELECT RAISE(ABORT, 'ledger transactions are immutable'); END;
CREATE TRIGGER entries_are_immutable_u BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END;
CREATE TRIGGER entries_are_immutable_d BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END;

-- Outbox: written in the same database transaction as the change it announces.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    app_id       TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    data         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX events_by_app ON events (app_id, seq);

-- `owner` is an app id, `operator`, or `flow:<id>`. The row is written with the
-- answer, in the same database transaction as the change it answers for.
CREATE TABLE idempotency_keys (
    owner        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    status_code  INTEGER NOT NULL,
    body         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
