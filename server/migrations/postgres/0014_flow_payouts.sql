-- Payouts inside a flow (issue 16, part 3): a flow's `payout` step withdraws the
-- payee's wallet; the flow keeps the payout it made. The app bounds what a payee
-- may withdraw there (minor units; NULL: no bound).
ALTER TABLE flows ADD COLUMN payout_transfer_id TEXT;
ALTER TABLE apps ADD COLUMN flow_payout_min BIGINT;
ALTER TABLE apps ADD COLUMN flow_payout_max BIGINT;
