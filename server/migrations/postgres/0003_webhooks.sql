-- Webhook endpoints, and one delivery per (endpoint, event), written in the same
-- database transaction as the event itself (the outbox).

CREATE TABLE webhook_endpoints (
    seq                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                   TEXT    NOT NULL UNIQUE,
    app_id               TEXT    NOT NULL REFERENCES apps (id),
    url                  TEXT    NOT NULL,
    -- JSON array of event types, or '["*"]'.
    events               TEXT    NOT NULL,
    description          TEXT,
    secret_encrypted     TEXT    NOT NULL,
    previous_secret_encrypted TEXT,
    previous_secret_expires_at BIGINT,
    status               TEXT    NOT NULL DEFAULT 'enabled',
    disabled_reason      TEXT,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    deleted_at           BIGINT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_by_app ON webhook_endpoints (app_id, seq);

CREATE TABLE webhook_deliveries (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               TEXT    NOT NULL UNIQUE,
    app_id           TEXT    NOT NULL,
    endpoint_id      TEXT    NOT NULL REFERENCES webhook_endpoints (id),
    event_id         TEXT    NOT NULL REFERENCES events (id),
    status           TEXT    NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_until      BIGINT,
    last_status_code BIGINT,
    last_error       TEXT,
    delivered_at     BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, seq);

CREATE TABLE webhook_attempts (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id  TEXT    NOT NULL REFERENCES webhook_deliveries (id),
    status_code  BIGINT,
    error        TEXT,
    duration_ms  BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, seq);
