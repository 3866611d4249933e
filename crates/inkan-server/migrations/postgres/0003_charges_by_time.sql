-- A wallet's charges by time: the limit checks of every charge sum this month's charges (and the
-- pending ones, all younger than a charge's lifetime), so they read a range of this index instead
-- of the wallet's whole history.
CREATE INDEX charges_account_created ON charges(account_id, created_at);
