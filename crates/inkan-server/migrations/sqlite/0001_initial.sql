-- Inkan issuer schema, SQLite flavour. Keep in step with ../postgres/0001_initial.sql: the same
-- tables, columns and constraints; only types and identity columns differ.
-- Times are Unix milliseconds; money is integer minor units with its currency; booleans are 0/1.

CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,
    display_name    TEXT NOT NULL,
    webauthn_user   TEXT NOT NULL UNIQUE,
    currency        TEXT NOT NULL,
    balance         INTEGER NOT NULL CHECK (balance >= 0),
    frozen          INTEGER NOT NULL CHECK (frozen IN (0, 1)),
    limits          TEXT NOT NULL,
    event_seq       INTEGER NOT NULL,
    last_hash       TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);

CREATE TABLE passkeys (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    passkey         TEXT NOT NULL,
    counter         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX passkeys_account ON passkeys(account_id);

CREATE TABLE recovery_codes (
    code_hash       TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    used_at         INTEGER
);
CREATE INDEX recovery_codes_account ON recovery_codes(account_id);

CREATE TABLE devices (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    key_id          TEXT NOT NULL UNIQUE,
    public_key      BLOB NOT NULL,
    name            TEXT NOT NULL,
    active          INTEGER NOT NULL CHECK (active IN (0, 1)),
    last_counter    INTEGER,
    enrolled_at     INTEGER NOT NULL,
    revoked_at      INTEGER
);
CREATE INDEX devices_account ON devices(account_id);

CREATE TABLE sessions (
    token_hash      TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    device_id       TEXT,
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL
);

-- WebAuthn ceremony state between "begin" and "finish". Deleted in the transaction that uses it.
CREATE TABLE ceremonies (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    account_id      TEXT,
    state           TEXT NOT NULL,
    context         TEXT NOT NULL,
    expires_at      INTEGER NOT NULL
);

CREATE TABLE merchants (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);

CREATE TABLE terminals (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    name            TEXT NOT NULL,
    key_hash        TEXT NOT NULL UNIQUE,
    active          INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at      INTEGER NOT NULL
);

CREATE TABLE charges (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    terminal_id     TEXT NOT NULL REFERENCES terminals(id),
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    device_id       TEXT NOT NULL REFERENCES devices(id),
    amount          INTEGER NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    description     TEXT,
    status          TEXT NOT NULL,
    code_counter    INTEGER NOT NULL,
    auth_state      TEXT,
    auth_request    TEXT,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    decided_at      INTEGER,
    refunded_at     INTEGER
);
CREATE INDEX charges_account_status ON charges(account_id, status);
CREATE INDEX charges_pending_expiry ON charges(status, expires_at);

CREATE TABLE idempotency_keys (
    terminal_id     TEXT NOT NULL REFERENCES terminals(id),
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    charge_id       TEXT NOT NULL REFERENCES charges(id),
    response        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (terminal_id, key)
);

-- Double-entry ledger: every transaction's entries sum to zero.
-- Books: 'wallet:<account id>', 'merchant:<merchant id>', 'funding_clearing'.
CREATE TABLE ledger_transactions (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    reference       TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);

CREATE TABLE ledger_entries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id  TEXT NOT NULL REFERENCES ledger_transactions(id),
    book            TEXT NOT NULL,
    amount          INTEGER NOT NULL,
    currency        TEXT NOT NULL
);
CREATE INDEX ledger_entries_book ON ledger_entries(book);

CREATE TABLE cards (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    provider_token  TEXT NOT NULL,
    brand           TEXT NOT NULL,
    last4           TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    status          TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX cards_account ON cards(account_id);
CREATE INDEX cards_fingerprint ON cards(fingerprint);

CREATE TABLE topups (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    card_id         TEXT NOT NULL REFERENCES cards(id),
    amount          INTEGER NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    provider_ref    TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);

-- The live feed and tamper-evident history. seq counts 1, 2, 3… per account without gaps, and is
-- taken from accounts.event_seq under that row's lock, so it follows commit order.
CREATE TABLE events (
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    seq             INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    payload         TEXT NOT NULL,
    hash            TEXT NOT NULL,
    PRIMARY KEY (account_id, seq)
);
