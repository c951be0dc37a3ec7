-- Verification, compliance, payout methods, payouts executed through rails,
-- payout links and flows.

-- App rules: payouts above review_threshold are flagged for review; a tax id is
-- required once a user's payouts in a calendar year would exceed tax_id_threshold.
ALTER TABLE apps ADD COLUMN review_threshold BIGINT;
ALTER TABLE apps ADD COLUMN first_payout_review_threshold BIGINT;
ALTER TABLE apps ADD COLUMN tax_id_threshold BIGINT;
ALTER TABLE apps ADD COLUMN allowed_origins TEXT NOT NULL DEFAULT '[]';
ALTER TABLE apps ADD COLUMN brand TEXT NOT NULL DEFAULT '{}';

-- Payout execution: which method and rail, the rail's reference, and a lease so
-- that only one worker (of any process) handles a payout at a time.
ALTER TABLE transfers ADD COLUMN payout_method_id TEXT;
ALTER TABLE transfers ADD COLUMN rail TEXT;
ALTER TABLE transfers ADD COLUMN rail_ref TEXT;
ALTER TABLE transfers ADD COLUMN lease_until BIGINT;
ALTER TABLE transfers ADD COLUMN failure_code TEXT;
CREATE INDEX transfers_to_execute ON transfers (kind, status, lease_until);

-- One-time codes, stored as a keyed hash; a code is good for one phone (or email)
-- and one purpose.
CREATE TABLE verifications (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    app_id        TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    destination   TEXT    NOT NULL,
    code_hash     TEXT    NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    expires_at    BIGINT NOT NULL,
    verified_at   BIGINT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX verifications_by_subject ON verifications (app_id, subject, seq);

-- Fixed-window counters, shared by every server process on the database.
CREATE TABLE rate_limits (
    key           TEXT    PRIMARY KEY,
    window_start  BIGINT NOT NULL,
    count         BIGINT NOT NULL
);

CREATE TABLE compliance (
    user_id                TEXT    PRIMARY KEY REFERENCES users (id),
    app_id                 TEXT    NOT NULL,
    legal_first_name       TEXT,
    legal_last_name        TEXT,
    date_of_birth          TEXT,
    address                TEXT,
    tax_id_encrypted       TEXT,
    tax_id_last4           TEXT,
    kyc_status             TEXT    NOT NULL DEFAULT 'not_started',
    id_verification_status TEXT    NOT NULL DEFAULT 'not_started',
    updated_at             BIGINT NOT NULL
);

-- Details are encrypted; `display` holds only what may be shown (masked).
CREATE TABLE payout_methods (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    app_id        TEXT    NOT NULL,
    user_id       TEXT    NOT NULL REFERENCES users (id),
    kind          TEXT    NOT NULL CHECK (kind IN ('bank', 'paypal', 'venmo')),
    details_encrypted TEXT NOT NULL,
    display       TEXT    NOT NULL,
    deleted_at    BIGINT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX payout_methods_by_user ON payout_methods (user_id, seq);

CREATE TABLE payout_links (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    app_id        TEXT    NOT NULL REFERENCES apps (id),
    token_hash    TEXT    NOT NULL UNIQUE,
    -- The claim URL's token, sealed so the URL can be shown again; looked up by hash.
    token_encrypted TEXT  NOT NULL,
    amount        BIGINT NOT NULL CHECK (amount > 0),
    currency      TEXT    NOT NULL,
    phone_number  TEXT,
    email         TEXT,
    memo          TEXT,
    brand         TEXT,
    status        TEXT    NOT NULL,
    user_id       TEXT,
    payout_transfer_id TEXT,
    expires_at    BIGINT NOT NULL,
    claimed_at    BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX payout_links_by_app ON payout_links (app_id, seq);

-- A flow is one run of the onboarding widget; a payout link's claim is a flow too.
CREATE TABLE flows (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    app_id        TEXT    NOT NULL REFERENCES apps (id),
    user_id       TEXT,
    payout_link_id TEXT,
    steps         TEXT    NOT NULL,
    redirect_url  TEXT,
    theme         TEXT,
    status        TEXT    NOT NULL,
    token_hash    TEXT    NOT NULL UNIQUE,
    verified_phone TEXT,
    expires_at    BIGINT NOT NULL,
    completed_at  BIGINT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX flows_by_app ON flows (app_id, seq);

-- The sandbox rail keeps its own book, keyed by transfer: submitting the same
-- payout twice is a no-op, so a payout executes at most once whatever crashes.
CREATE TABLE sandbox_rail_payouts (
    transfer_id   TEXT    PRIMARY KEY,
    amount        BIGINT NOT NULL,
    currency      TEXT    NOT NULL,
    outcome       TEXT    NOT NULL,
    submissions   BIGINT NOT NULL DEFAULT 1,
    settle_at     BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);
