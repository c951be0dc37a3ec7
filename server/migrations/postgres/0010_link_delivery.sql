-- Payout links the server delivers itself (issue 16, part 4): by SMS or by email,
-- sent right after the link commits and retried by the delivery worker
-- (server/src/link_delivery.rs) until sent or given up. The URL is never stored in
-- the clear: the worker opens the sealed token when it sends.
ALTER TABLE payout_links ADD COLUMN delivery_method TEXT NOT NULL DEFAULT 'none'
    CHECK (delivery_method IN ('none', 'sms', 'email'));
ALTER TABLE payout_links ADD COLUMN delivery_status TEXT CHECK (delivery_status IN ('pending', 'sent', 'failed'));
ALTER TABLE payout_links ADD COLUMN delivery_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payout_links ADD COLUMN delivery_due_at BIGINT;
ALTER TABLE payout_links ADD COLUMN delivery_lease_until BIGINT;
ALTER TABLE payout_links ADD COLUMN delivered_at BIGINT;
CREATE INDEX payout_links_delivery_due ON payout_links (delivery_due_at) WHERE delivery_status = 'pending';
