-- Money out (issue 16): a wallet closed, its balance paid back to a verified card through the
-- funding provider in two phases (a pay-out written `pending` with the ledger movement, then
-- settled by the provider's answer or the reconciler). A closed wallet stays frozen for good.
ALTER TABLE accounts ADD COLUMN closed_at BIGINT;
CREATE TABLE payouts (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    card_id         TEXT NOT NULL REFERENCES cards(id),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    -- `closed` (the shopper closed the wallet) or `wind_down` (the operator closed them all).
    reason          TEXT NOT NULL,
    -- `pending`, `succeeded` (paid to the card) or `failed` (the money went back to the wallet).
    status          TEXT NOT NULL,
    provider_ref    TEXT NOT NULL,
    failure         TEXT,
    created_at      BIGINT NOT NULL,
    settled_at      BIGINT
);
-- One pay-out of a wallet on its way at a time: closing twice, or a wind-down run again, never
-- pays twice.
CREATE UNIQUE INDEX payouts_one_at_a_time ON payouts(account_id) WHERE status = 'pending';
CREATE INDEX payouts_pending ON payouts(created_at) WHERE status = 'pending';
