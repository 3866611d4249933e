-- Velocity and anomaly holds (issue 15): a charge a rule of `inkan_core::risk` set aside is made
-- `held_for_review` and keeps why, for the operator's list and the shopper's notice. A charge
-- made before has no reason; one not held keeps none.
ALTER TABLE charges ADD COLUMN hold_reason TEXT;
-- The rules read a wallet's latest top-up with every charge.
CREATE INDEX topups_account ON topups(account_id, created_at);
