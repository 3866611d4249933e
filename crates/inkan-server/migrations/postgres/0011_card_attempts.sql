-- Failed card tries counted by card number, device and client address across every wallet
-- (issue 15: a stolen card's details no longer get five guesses per fresh wallet). `subject` is
-- the card number's keyed hash (never the number), the device id, or the address.
CREATE TABLE attempt_counters (
    against         TEXT NOT NULL CHECK (against IN ('card_number', 'device', 'address')),
    subject         TEXT NOT NULL,
    failures        BIGINT NOT NULL,
    last_failed_at  BIGINT NOT NULL,
    PRIMARY KEY (against, subject)
);
