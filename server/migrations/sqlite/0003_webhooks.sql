-- Webhook endpoints, and one delivery per (endpoint, event), written in the same
-- database transaction as the event itself (the outbox).

CREATE TABLE webhook_endpoints (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    id                   TEXT    NOT NULL UNIQUE,
    app_id               TEXT    NOT NULL REFERENCES apps (id),
    url                  TEXT    NOT NULL,
    -- JSON array of event types, or '["*"]'.
    events               TEXT    NOT NULL,
    description          TEXT,
    secret_encrypted     TEXT    NOT NULL,
    previous_secret_encrypted TEXT,
    previous_secret_expires_at INTEGER,
    status               TEXT    NOT NULL DEFAULT 'enabled',
    disabled_reason      TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    deleted_at           INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX webhook_endpoints_by_app ON webhook_endpoints (app_id, seq);

CREATE TABLE webhook_deliveries (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT    NOT NULL UNIQUE,
    app_id           TEXT    NOT NULL,
    endpoint_id      TEXT    NOT NULL REFERENCES webhook_endpoints (id),
    event_id         TEXT    NOT NULL REFERENCES events (id),
    status           TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_until      INTEGER,
    last_status_code INTEGER,
    last_error       TEXT,
    delivered_at     INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, seq);

CREATE TABLE webhook_attempts (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id  TEXT    NOT NULL REFERENCES webhook_deliveries (id),
    status_code  INTEGER,
    error        TEXT,
    duration_ms  INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, seq);
