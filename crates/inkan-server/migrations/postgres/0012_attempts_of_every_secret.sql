-- Failed tries of every secret (card details, passkeys, recovery codes) are counted in one table,
-- per card number (its keyed hash), account, device and client address (issue 15). A wallet's
-- failed card tries were summed from cards.failed_attempts: they move here. A card remembers its
-- number's keyed hash, so that wrong verification codes count against the number too; cards added
-- before this stand for their number by the provider's fingerprint.
CREATE TABLE attempt_counters_of_secrets (
    secret          TEXT NOT NULL CHECK (secret IN ('card', 'passkey', 'recovery_code')),
    against         TEXT NOT NULL CHECK (against IN ('card_number', 'account', 'device', 'address')),
    subject         TEXT NOT NULL,
    failures        BIGINT NOT NULL,
    last_failed_at  BIGINT NOT NULL,
    PRIMARY KEY (secret, against, subject)
);
INSERT INTO attempt_counters_of_secrets (secret, against, subject, failures, last_failed_at)
    SELECT 'card', against, subject, failures, last_failed_at FROM attempt_counters;
INSERT INTO attempt_counters_of_secrets (secret, against, subject, failures, last_failed_at)
    SELECT 'card', 'account', account_id, CAST(SUM(failed_attempts) AS BIGINT), MAX(created_at)
    FROM cards GROUP BY account_id HAVING SUM(failed_attempts) > 0;
INSERT INTO attempt_counters_of_secrets (secret, against, subject, failures, last_failed_at)
    SELECT 'card', 'card_number', 'fingerprint:' || fingerprint, CAST(SUM(failed_attempts) AS BIGINT), MAX(created_at)
    FROM cards WHERE fingerprint <> '' GROUP BY fingerprint HAVING SUM(failed_attempts) > 0;
DROP TABLE attempt_counters;
ALTER TABLE attempt_counters_of_secrets RENAME TO attempt_counters;
ALTER TABLE cards ADD COLUMN number_key TEXT NOT NULL DEFAULT '';
UPDATE cards SET number_key = 'fingerprint:' || fingerprint WHERE fingerprint <> '';
