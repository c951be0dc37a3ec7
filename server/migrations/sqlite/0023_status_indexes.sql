-- A balance transfer is complete when it is written and never waits for a
-- worker: only payouts (the payout worker, the ACH cut-off, volumes) and refills
-- (the ACH cut-off's debits) are looked up by status, so only they are indexed
-- by it. One index fewer is written with every balance transfer.
DROP INDEX transfers_to_execute;
CREATE INDEX transfers_to_execute ON transfers (status, lease_until) WHERE kind = 'payout';
CREATE INDEX refills_by_status ON transfers (status) WHERE kind = 'refill';
