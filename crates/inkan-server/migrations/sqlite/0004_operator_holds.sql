-- The operator's kill switches (brief rule 7). Every check reads these rows in the request that
-- they stop, so a switch holds on every server instance of the database at once.
--
-- Who may use the operator API: its keys, stored as hashes (`inkan-server admin operator create`).
CREATE TABLE operator_keys (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    key_hash        TEXT NOT NULL UNIQUE,
    active          INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at      INTEGER NOT NULL
);
-- A service the operator has suspended ('charges', 'top_ups' or 'enrolment'): a row while it is.
CREATE TABLE suspensions (
    service         TEXT PRIMARY KEY CHECK (service IN ('charges', 'top_ups', 'enrolment')),
    reason          TEXT NOT NULL,
    operator_id     TEXT NOT NULL REFERENCES operator_keys(id),
    since           INTEGER NOT NULL
);
-- One account put on hold by the operator: why, or NULL while it is not. Unlike `frozen`, the
-- shopper cannot lift it.
ALTER TABLE accounts ADD COLUMN held TEXT;
