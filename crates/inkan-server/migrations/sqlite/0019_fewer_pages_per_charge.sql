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

-- sqlite only: begin
-- A ledger entry's number without AUTOINCREMENT: entries are never deleted, so the next number
-- is the largest one's successor either way, and sqlite_sequence is no longer written with every
-- transaction. PostgreSQL's identity column keeps its own sequence: nothing to do there.
CREATE TABLE ledger_entries_numbered (
    id              INTEGER PRIMARY KEY,
    transaction_id  TEXT NOT NULL REFERENCES ledger_transactions(id),
    book            TEXT NOT NULL,
    amount          INTEGER NOT NULL,
    currency        TEXT NOT NULL
);
INSERT INTO ledger_entries_numbered (id, transaction_id, book, amount, currency)
SELECT id, transaction_id, book, amount, currency FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_numbered RENAME TO ledger_entries;
CREATE INDEX ledger_entries_book ON ledger_entries(book);
-- sqlite only: end
