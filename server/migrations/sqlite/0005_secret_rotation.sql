-- An app's API secret can be rotated: the previous secret's hash stays valid
-- until a stated time (the grace period the app asked for), then it is refused.
ALTER TABLE apps ADD COLUMN previous_secret_hash TEXT;
ALTER TABLE apps ADD COLUMN previous_secret_expires_at INTEGER;
