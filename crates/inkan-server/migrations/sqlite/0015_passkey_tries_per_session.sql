-- A passkey tried within a session (a step-up, a payment's confirmation) is counted against that
-- session instead of its device (issue 15): a stolen session cannot lock its owner's device, and
-- its fifth failure ends it. The counters' table takes 'session' among what a try counts against.
CREATE TABLE attempt_counters_with_sessions (
    secret          TEXT NOT NULL CHECK (secret IN ('card', 'passkey', 'recovery_code')),
    against         TEXT NOT NULL CHECK (against IN ('card_number', 'account', 'device', 'address', 'session')),
    subject         TEXT NOT NULL,
    failures        INTEGER NOT NULL,
    last_failed_at  INTEGER NOT NULL,
    PRIMARY KEY (secret, against, subject)
);
INSERT INTO attempt_counters_with_sessions (secret, against, subject, failures, last_failed_at)
    SELECT secret, against, subject, failures, last_failed_at FROM attempt_counters;
DROP TABLE attempt_counters;
ALTER TABLE attempt_counters_with_sessions RENAME TO attempt_counters;
