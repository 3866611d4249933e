-- A request to join a wallet that does not exist is kept and answered like any other, so that
-- join requests cannot tell which account ids exist (issue 15). Such a request can never be
-- approved: nobody can sign in to that wallet, and no recovery code of it exists. So the account
-- id of a join is no longer a foreign key. The table is rebuilt without it, as in the SQLite flavour.
CREATE TABLE device_joins_any (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL,
    status          TEXT NOT NULL,
    name            TEXT,
    key_id          TEXT,
    public_key      BYTEA,
    approved_by     TEXT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
INSERT INTO device_joins_any (id, account_id, status, name, key_id, public_key, approved_by, created_at, expires_at)
SELECT id, account_id, status, name, key_id, public_key, approved_by, created_at, expires_at FROM device_joins;
DROP TABLE device_joins;
ALTER TABLE device_joins_any RENAME TO device_joins;
CREATE INDEX device_joins_account ON device_joins(account_id, status);
CREATE INDEX device_joins_expiry ON device_joins(expires_at);
