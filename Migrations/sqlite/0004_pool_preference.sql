-- Which upstream accounts a user's requests try first: their own (dedicated) or the shared pool.
ALTER TABLE users ADD COLUMN pool_preference TEXT NOT NULL DEFAULT 'dedicated_first'
    CHECK (pool_preference IN ('dedicated_only', 'dedicated_first', 'shared_first'));
