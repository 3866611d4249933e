-- Fewer pages written per charge (issue 17). Counting the WAL's frames of a bench run by table
-- showed every status change moving a charge in two indexes keyed by status, where only open
-- charges are ever looked up by status.
--
-- The open charges of a wallet, and the open charges by expiry: a charge enters these indexes
-- when it is made and leaves them when it is decided, never to come back. The list is
-- `ChargeStatus::is_open` (`charge_sql::open()`); a test checks that they agree, and a query
-- that should use one of these indexes names the same list.
DROP INDEX charges_account_status;
DROP INDEX charges_pending_expiry;
CREATE INDEX charges_open_by_account ON charges(account_id, created_at) WHERE status IN ('held_for_review', 'pending_confirmation');
CREATE INDEX charges_open_by_expiry ON charges(expires_at) WHERE status IN ('held_for_review', 'pending_confirmation');

-- sqlite only: begin
-- A notice and a terminal's idempotency key are found by their primary key only: kept in that
-- key's tree alone (WITHOUT ROWID), a write touches one tree instead of the table and its key's
-- index. PostgreSQL keeps a heap and its key's index whatever it is told: nothing to do there.
CREATE TABLE events_by_key (
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    seq             INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    payload         TEXT NOT NULL,
    hash            TEXT NOT NULL,
    signed_by       TEXT,
    signature       TEXT,
    PRIMARY KEY (account_id, seq)
) WITHOUT ROWID;
INSERT INTO events_by_key (account_id, seq, at, payload, hash, signed_by, signature)
SELECT account_id, seq, at, payload, hash, signed_by, signature FROM events;
DROP TABLE events;
ALTER TABLE events_by_key RENAME TO events;

CREATE TABLE idempotency_keys_by_key (
    terminal_id     TEXT NOT NULL REFERENCES terminals(id),
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    charge_id       TEXT NOT NULL REFERENCES charges(id),
    response        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (terminal_id, key)
) WITHOUT ROWID;
INSERT INTO idempotency_keys_by_key (terminal_id, key, request_hash, charge_id, response, created_at)
SELECT terminal_id, key, request_hash, charge_id, response, created_at FROM idempotency_keys;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_by_key RENAME TO idempotency_keys;

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
