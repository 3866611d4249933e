-- The issuer signs the head of each history (issue 14: history the shopper can really verify).
--
-- Every notice appended from now on carries the issuer's Ed25519 signature over
-- (account, seq, hash) and the id of the key that made it. Notices written before keep none: the
-- chain covers them, and the server signs each history's latest notice when it starts
-- (`feed::sign_unsigned_heads`), so every history ends in a signed head.
ALTER TABLE events ADD COLUMN signed_by TEXT;
ALTER TABLE events ADD COLUMN signature TEXT;
