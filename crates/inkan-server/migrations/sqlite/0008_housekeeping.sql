-- Housekeeping deletes what has expired (issue 15: bounded resources). These indexes let each
-- sweep find it without reading every row.
CREATE INDEX ceremonies_expiry ON ceremonies(expires_at);
CREATE INDEX sessions_last_seen ON sessions(last_seen_at);
CREATE INDEX sessions_created ON sessions(created_at);
CREATE INDEX device_joins_expiry ON device_joins(expires_at);
