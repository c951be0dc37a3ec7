-- The delivery worker looks for due deliveries endpoint by endpoint (enabled ones
-- only). Keyed by endpoint first, the index gives each endpoint's pending
-- deliveries in due order directly; keyed by status alone, PostgreSQL combined it
-- with the by-endpoint index and read every delivery the endpoint ever had, on
-- every pass.
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, status, next_attempt_at);
