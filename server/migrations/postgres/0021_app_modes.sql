-- Test and live apps in one deployment (issue 19, part 1): an app is `test` (the
-- sandbox rail, the dev outboxes, its secret `sk_test_…`) or `live` (the
-- configured rails and providers, `sk_live_…`), and a live app says which payout
-- method types it allows, each of which needs a configured rail
-- (server/src/live.rs). Apps made before this are test apps.
ALTER TABLE apps ADD COLUMN mode TEXT NOT NULL DEFAULT 'test';
ALTER TABLE apps ADD COLUMN payout_method_types TEXT NOT NULL DEFAULT '["bank","paypal","venmo"]';
