-- Fewer pages written per charge (issue 17). Counting the WAL's frames of a bench run by table
-- showed every status change moving a charge in two indexes keyed by status, where only open
-- charges are ever looked up by status. (Notices and idempotency keys kept WITHOUT ROWID were
-- tried and dropped: with rows of a few hundred bytes placed at random by their keys, they wrote
-- more pages than the table and its key's index do; docs/performance.md has the count.)
--
-- The open charges of a wallet, and the open charges by expiry: a charge enters these indexes
-- when it is made and leaves them when it is decided, never to come back. The list is
-- `ChargeStatus::is_open` (`charge_sql::open()`); a test checks that they agree, and a query
-- that should use one of these indexes names the same list. On PostgreSQL with many charges,
-- build them first with `CREATE INDEX CONCURRENTLY` under the same names (README, "Upgrading"):
-- this migration then keeps them.
DROP INDEX charges_account_status;
DROP INDEX charges_pending_expiry;
CREATE INDEX IF NOT EXISTS charges_open_by_account ON charges(account_id, created_at) WHERE status IN ('held_for_review', 'pending_confirmation');
CREATE INDEX IF NOT EXISTS charges_open_by_expiry ON charges(expires_at) WHERE status IN ('held_for_review', 'pending_confirmation');

-- The SQLite flavour numbers ledger entries without AUTOINCREMENT. PostgreSQL's identity column
-- keeps its own sequence: nothing to do here.
