-- Owners' accounts may serve other users from their surplus; each account may cap its concurrency;
-- owners remove accounts without losing the usage rows that name them.
ALTER TABLE upstream_accounts ADD COLUMN share_mode TEXT NOT NULL DEFAULT 'private'
    CHECK (share_mode IN ('private', 'surplus'));
-- Percent of the account's quota its owner keeps: others are served only while more is left.
ALTER TABLE upstream_accounts ADD COLUMN reserve_percent INTEGER NOT NULL DEFAULT 20
    CHECK (reserve_percent BETWEEN 0 AND 100);
-- Requests this account runs at once; NULL has no cap.
ALTER TABLE upstream_accounts ADD COLUMN max_concurrency INTEGER CHECK (max_concurrency IS NULL OR max_concurrency > 0);
ALTER TABLE upstream_accounts ADD COLUMN removed_at INTEGER;
CREATE INDEX upstream_accounts_owner ON upstream_accounts (owner_user_id);
