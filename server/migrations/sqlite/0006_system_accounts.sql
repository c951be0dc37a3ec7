-- The ledger's system accounts of every supported currency (DESIGN.md §3 Ledger):
-- money that entered from outside, payouts not yet settled, money that left.
-- Ids are `sys_<kind>_<currency>` (ledger::SystemAccount::account_id). A currency
-- added to shared/src/money.rs needs its three rows here, in a new migration; the
-- ledger tests check every supported currency has them.
INSERT INTO accounts (id, kind, currency, balance, created_at) VALUES
    ('sys_refill_source_USD', 'refill_source', 'USD', 0, 0),
    ('sys_payout_clearing_USD', 'payout_clearing', 'USD', 0, 0),
    ('sys_external_payouts_USD', 'external_payouts', 'USD', 0, 0),
    ('sys_refill_source_EUR', 'refill_source', 'EUR', 0, 0),
    ('sys_payout_clearing_EUR', 'payout_clearing', 'EUR', 0, 0),
    ('sys_external_payouts_EUR', 'external_payouts', 'EUR', 0, 0),
    ('sys_refill_source_GBP', 'refill_source', 'GBP', 0, 0),
    ('sys_payout_clearing_GBP', 'payout_clearing', 'GBP', 0, 0),
    ('sys_external_payouts_GBP', 'external_payouts', 'GBP', 0, 0),
    ('sys_refill_source_CAD', 'refill_source', 'CAD', 0, 0),
    ('sys_payout_clearing_CAD', 'payout_clearing', 'CAD', 0, 0),
    ('sys_external_payouts_CAD', 'external_payouts', 'CAD', 0, 0),
    ('sys_refill_source_AUD', 'refill_source', 'AUD', 0, 0),
    ('sys_payout_clearing_AUD', 'payout_clearing', 'AUD', 0, 0),
    ('sys_external_payouts_AUD', 'external_payouts', 'AUD', 0, 0),
    ('sys_refill_source_MXN', 'refill_source', 'MXN', 0, 0),
    ('sys_payout_clearing_MXN', 'payout_clearing', 'MXN', 0, 0),
    ('sys_external_payouts_MXN', 'external_payouts', 'MXN', 0, 0),
    ('sys_refill_source_INR', 'refill_source', 'INR', 0, 0),
    ('sys_payout_clearing_INR', 'payout_clearing', 'INR', 0, 0),
    ('sys_external_payouts_INR', 'external_payouts', 'INR', 0, 0),
    ('sys_refill_source_JPY', 'refill_source', 'JPY', 0, 0),
    ('sys_payout_clearing_JPY', 'payout_clearing', 'JPY', 0, 0),
    ('sys_external_payouts_JPY', 'external_payouts', 'JPY', 0, 0)
ON CONFLICT (id) DO NOTHING;
