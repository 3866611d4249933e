-- Top-ups in two phases (issue 16): a top-up is written `pending` and committed before the card
-- provider is asked, with its id as the provider's idempotency key, and settled in a second
-- transaction (`succeeded` and credited, or `failed`). One the answer never reached stays
-- `pending` until the reconciler asks the provider. Top-ups made before were all credited.
ALTER TABLE topups ADD COLUMN status TEXT NOT NULL DEFAULT 'succeeded';
-- The shopper's Idempotency-Key, one per wallet, and the hash of the body it came with (a retry
-- with another body is refused). NULL for top-ups made before keys were required.
ALTER TABLE topups ADD COLUMN idempotency_key TEXT;
ALTER TABLE topups ADD COLUMN request_hash TEXT;
ALTER TABLE topups ADD COLUMN settled_at BIGINT;
-- Why a failed top-up failed, as the shopper is told.
ALTER TABLE topups ADD COLUMN failure TEXT;
CREATE UNIQUE INDEX topups_idempotency ON topups(account_id, idempotency_key);
-- The reconciler's work list: what is still pending, oldest first.
CREATE INDEX topups_pending ON topups(created_at) WHERE status = 'pending';
