-- Running totals (issue 17): what counts against a wallet's limits in one Tokyo day and one Tokyo
-- month, and what is not decided yet, kept on the account row (`inkan_core::tally`) so a payment
-- is judged without summing the month's charges. `tally_day` and `tally_month` are the starts of
-- the day and month counted (ms); NULL until the wallet's first charge after this migration, which
-- sums its charges once to start the tally.
ALTER TABLE accounts ADD COLUMN tally_day INTEGER;
ALTER TABLE accounts ADD COLUMN tally_month INTEGER;
ALTER TABLE accounts ADD COLUMN spent_today INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN spent_this_month INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN open_amount INTEGER NOT NULL DEFAULT 0;
