-- Payout fees (issue 16, DESIGN.md §3 Fees): the operator's fee-revenue account of
-- each currency, each app's fee schedule and who pays by default, and each payout's
-- (and payout link's) fee and payer.
--
-- SQLite cannot change a CHECK constraint in place, so `accounts` is rebuilt the
-- way SQLite documents (lang_altertable.html, "other kinds of table schema
-- changes"): this migration runs with foreign keys off, and the runner checks
-- `PRAGMA foreign_key_check` before it commits.
CREATE TABLE accounts_new (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    kind         TEXT    NOT NULL CHECK (kind IN ('app_wallet', 'user_wallet', 'refill_source', 'payout_clearing', 'external_payouts', 'fee_revenue')),
    app_id       TEXT,
    user_id      TEXT,
    currency     TEXT    NOT NULL,
    balance      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    CHECK (kind NOT IN ('app_wallet', 'user_wallet') OR balance >= 0)
);
INSERT INTO accounts_new (seq, id, kind, app_id, user_id, currency, balance, created_at)
    SELECT seq, id, kind, app_id, user_id, currency, balance, created_at FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_new RENAME TO accounts;

INSERT INTO accounts (id, kind, currency, balance, created_at) VALUES
    ('sys_fee_revenue_USD', 'fee_revenue', 'USD', 0, 0),
    ('sys_fee_revenue_EUR', 'fee_revenue', 'EUR', 0, 0),
    ('sys_fee_revenue_GBP', 'fee_revenue', 'GBP', 0, 0),
    ('sys_fee_revenue_CAD', 'fee_revenue', 'CAD', 0, 0),
    ('sys_fee_revenue_AUD', 'fee_revenue', 'AUD', 0, 0),
    ('sys_fee_revenue_MXN', 'fee_revenue', 'MXN', 0, 0),
    ('sys_fee_revenue_INR', 'fee_revenue', 'INR', 0, 0),
    ('sys_fee_revenue_JPY', 'fee_revenue', 'JPY', 0, 0)
ON CONFLICT (id) DO NOTHING;

-- The schedule (minor units of the app's currency; basis points) and the default payer.
ALTER TABLE apps ADD COLUMN fee_fixed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN fee_bps INTEGER NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN fee_min INTEGER;
ALTER TABLE apps ADD COLUMN fee_max INTEGER;
ALTER TABLE apps ADD COLUMN fee_party TEXT NOT NULL DEFAULT 'app' CHECK (fee_party IN ('app', 'user'));

-- A payout's fee and who pays it (NULL for balance transfers and refills).
ALTER TABLE transfers ADD COLUMN fee INTEGER NOT NULL DEFAULT 0 CHECK (fee >= 0);
ALTER TABLE transfers ADD COLUMN fee_party TEXT CHECK (fee_party IN ('app', 'user'));

-- A link's fee is worked out when it is made; its claim pays that fee.
ALTER TABLE payout_links ADD COLUMN fee INTEGER NOT NULL DEFAULT 0 CHECK (fee >= 0);
ALTER TABLE payout_links ADD COLUMN fee_party TEXT NOT NULL DEFAULT 'app' CHECK (fee_party IN ('app', 'user'));
