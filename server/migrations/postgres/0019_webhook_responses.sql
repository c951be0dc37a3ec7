-- What a webhook endpoint last answered (its first 2 KB, as text), to show the app
-- beside the status code (issue 18, part 3; server/src/webhooks.rs).
ALTER TABLE webhook_deliveries ADD COLUMN last_response TEXT;
