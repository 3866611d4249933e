-- A passkey belongs to one device, and a session too (issue 14: nothing outlives its device).
--
-- Attribution of the passkeys that exist: enrolment and joins have always created a passkey and
-- its device in one transaction, so the device of the account enrolled within 5 seconds of the
-- passkey registered it. A passkey that cannot be attributed that way is kept, tied to the
-- account's oldest active device (or, without one, its oldest device). A passkey whose device
-- was removed is deleted: removing a device now removes its passkeys, and this applies that to the
-- past. A passkey of an account without any device is dropped: it could never act.
CREATE TABLE passkeys_bound (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    device_id       TEXT NOT NULL REFERENCES devices(id),
    passkey         TEXT NOT NULL,
    counter         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
INSERT INTO passkeys_bound (id, account_id, device_id, passkey, counter, created_at)
SELECT attributed.id, attributed.account_id, attributed.device_id, attributed.passkey, attributed.counter,
       attributed.created_at
FROM (
    SELECT p.id, p.account_id, p.passkey, p.counter, p.created_at,
           COALESCE(
               (SELECT d.id FROM devices d WHERE d.account_id = p.account_id
                    AND d.enrolled_at BETWEEN p.created_at - 5000 AND p.created_at + 5000
                ORDER BY d.enrolled_at LIMIT 1),
               (SELECT d.id FROM devices d WHERE d.account_id = p.account_id AND d.active = 1
                ORDER BY d.enrolled_at LIMIT 1),
               (SELECT d.id FROM devices d WHERE d.account_id = p.account_id
                ORDER BY d.enrolled_at LIMIT 1)
           ) AS device_id
    FROM passkeys p
) attributed
WHERE attributed.device_id IS NOT NULL;
DELETE FROM passkeys_bound WHERE device_id IN (SELECT id FROM devices WHERE active = 0);
DROP TABLE passkeys;
ALTER TABLE passkeys_bound RENAME TO passkeys;
CREATE INDEX passkeys_account ON passkeys(account_id);
CREATE INDEX passkeys_device ON passkeys(device_id);

-- Every session names its active device. Sessions made without one, or of a removed device, end.
CREATE TABLE sessions_bound (
    token_hash      TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    device_id       TEXT NOT NULL REFERENCES devices(id),
    created_at      INTEGER NOT NULL,
    last_seen_at    INTEGER NOT NULL
);
INSERT INTO sessions_bound (token_hash, account_id, device_id, created_at, last_seen_at)
SELECT s.token_hash, s.account_id, s.device_id, s.created_at, s.last_seen_at
FROM sessions s JOIN devices d ON d.id = s.device_id AND d.account_id = s.account_id
WHERE d.active = 1;
DROP TABLE sessions;
ALTER TABLE sessions_bound RENAME TO sessions;
CREATE INDEX sessions_account ON sessions(account_id);
CREATE INDEX sessions_device ON sessions(device_id);

-- Sign-in and step-up requests in flight were made for any passkey of the account: start again.
DELETE FROM ceremonies WHERE kind IN ('sign_in', 'step_up');
