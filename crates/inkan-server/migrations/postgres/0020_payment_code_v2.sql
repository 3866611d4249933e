-- Payment code v2 (docs/payment-code.md): the number the issuer gives each device, sealed inside
-- its codes and found by this index in one lookup. Random, below 2^63, never reused; given when
-- the device first opens a session after this migration (new devices: at enrolment or join).
-- The device's code keys are derived from it and the issuer's master secret, so none is stored.
ALTER TABLE devices ADD COLUMN code_index BIGINT;
CREATE UNIQUE INDEX devices_code_index ON devices(code_index);
