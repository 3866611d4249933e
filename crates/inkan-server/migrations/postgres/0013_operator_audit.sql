-- Operator accountability (issue 15): every operator action is kept, with who, when, what and why,
-- and each operator key holds scopes (`switches`, `review`, `read`; keys made before this hold all
-- three, as they could do everything).
ALTER TABLE operator_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'switches,review,read';
CREATE TABLE operator_audit (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              BIGINT NOT NULL,
    -- An operator key's id, or 'command line' for `inkan-server admin ...` on the database itself.
    operator_id     TEXT NOT NULL,
    action          TEXT NOT NULL,
    subject         TEXT NOT NULL,
    reason          TEXT NOT NULL
);
