-- Inkan issuer schema, PostgreSQL flavour. Keep in step with ../sqlite/0001_initial.sql: the same
-- tables, columns and constraints; only types and identity columns differ.
-- Times are Unix milliseconds; money is integer minor units with its currency; booleans are 0/1.

CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,
    display_name    TEXT NOT NULL,
    webauthn_user   TEXT NOT NULL UNIQUE,
    currency        TEXT NOT NULL,
    balance         BIGINT NOT NULL CHECK (balance >= 0),
    frozen          BIGINT NOT NULL CHECK (frozen IN (0, 1)),
    limits          TEXT NOT NULL,
    event_seq       BIGINT NOT NULL,
    last_hash       TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE passkeys (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    passkey         TEXT NOT NULL,
    counter         BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX passkeys_account ON passkeys(account_id);

CREATE TABLE recovery_codes (
    code_hash       TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    used_at         BIGINT
);
CREATE INDEX recovery_codes_account ON recovery_codes(account_id);

CREATE TABLE devices (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    key_id          TEXT NOT NULL UNIQUE,
    public_key      BYTEA NOT NULL,
    name            TEXT NOT NULL,
    active          BIGINT NOT NULL CHECK (active IN (0, 1)),
    last_counter    BIGINT,
    enrolled_at     BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX devices_account ON devices(account_id);

CREATE TABLE sessions (
    token_hash      TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    device_id       TEXT,
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL
);

-- WebAuthn ceremony state between "begin" and "finish". Deleted in the transaction that uses it.
CREATE TABLE ceremonies (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    account_id      TEXT,
    state           TEXT NOT NULL,
    context         TEXT NOT NULL,
    expires_at      BIGINT NOT NULL
);

CREATE TABLE merchants (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE terminals (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    name            TEXT NOT NULL,
    key_hash        TEXT NOT NULL UNIQUE,
    active          BIGINT NOT NULL CHECK (active IN (0, 1)),
    created_at      BIGINT NOT NULL
);

CREATE TABLE charges (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    terminal_id     TEXT NOT NULL REFERENCES terminals(id),
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    device_id       TEXT NOT NULL REFERENCES devices(id),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    description     TEXT,
    status          TEXT NOT NULL,
    code_counter    BIGINT NOT NULL,
    auth_state      TEXT,
    auth_request    TEXT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    decided_at      BIGINT,
    refunded_at     BIGINT
);
CREATE INDEX charges_account_status ON charges(account_id, status);
CREATE INDEX charges_pending_expiry ON charges(status, expires_at);

CREATE TABLE idempotency_keys (
    terminal_id     TEXT NOT NULL REFERENCES terminals(id),
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    charge_id       TEXT NOT NULL REFERENCES charges(id),
    response        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (terminal_id, key)
);

-- Double-entry ledger: every transaction's entries sum to zero.
-- Books: 'wallet:<account id>', 'merchant:<merchant id>', 'funding_clearing'.
CREATE TABLE ledger_transactions (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    reference       TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE TABLE ledger_entries (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  TEXT NOT NULL REFERENCES ledger_transactions(id),
    book            TEXT NOT NULL,
    amount          BIGINT NOT NULL,
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
    failed_attempts BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX cards_account ON cards(account_id);
CREATE INDEX cards_fingerprint ON cards(fingerprint);

CREATE TABLE topups (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    card_id         TEXT NOT NULL REFERENCES cards(id),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    provider_ref    TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

-- The live feed and tamper-evident history. seq counts 1, 2, 3… per account without gaps, and is
-- taken from accounts.event_seq under that row's lock, so it follows commit order.
CREATE TABLE events (
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    seq             BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    payload         TEXT NOT NULL,
    hash            TEXT NOT NULL,
    PRIMARY KEY (account_id, seq)
);
