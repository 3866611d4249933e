-- A device asking to join a wallet. It becomes a device only once approved (by a passkey of the
-- wallet through a signed-in device, or by a recovery code) and once it has made its own passkey.
CREATE TABLE device_joins (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    status          TEXT NOT NULL,
    name            TEXT,
    key_id          TEXT,
    public_key      BLOB,
    approved_by     TEXT,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);
CREATE INDEX device_joins_account ON device_joins(account_id, status);
