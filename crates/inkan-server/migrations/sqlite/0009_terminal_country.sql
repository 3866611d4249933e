-- A terminal takes payments in one country, part of its configuration (issue 15: region policy).
-- Every terminal made before was made for Japan, the only country served until now.
ALTER TABLE terminals ADD COLUMN country TEXT NOT NULL DEFAULT 'JP';
