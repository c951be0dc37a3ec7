-- Payout batches (issue 16, part 5): many payouts and payout links made in one
-- database transaction, or none; each item remembers what it made.
CREATE TABLE payout_batches (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    app_id        TEXT    NOT NULL REFERENCES apps (id),
    status        TEXT    NOT NULL CHECK (status IN ('processing', 'completed')),
    currency      TEXT    NOT NULL,
    total_amount  BIGINT NOT NULL,
    total_app_fees BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    completed_at  BIGINT
);
CREATE INDEX payout_batches_processing ON payout_batches (seq) WHERE status = 'processing';

CREATE TABLE payout_batch_items (
    batch_id       TEXT    NOT NULL REFERENCES payout_batches (id),
    position       BIGINT NOT NULL,
    kind           TEXT    NOT NULL CHECK (kind IN ('payout', 'payout_link')),
    amount         BIGINT NOT NULL,
    user_id        TEXT,
    transfer_id    TEXT REFERENCES transfers (id),
    payout_link_id TEXT REFERENCES payout_links (id),
    PRIMARY KEY (batch_id, position)
);
