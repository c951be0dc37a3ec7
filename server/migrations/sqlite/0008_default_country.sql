-- The country a payee's phone number is read in when typed without a calling code
-- (ISO 3166 alpha-2, `/v2/apps/me/settings`); NULL: the payee's browser decides, else US.
ALTER TABLE apps ADD COLUMN default_country TEXT;
