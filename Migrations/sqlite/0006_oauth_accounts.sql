-- sluice: rebuilds tables
-- OAuth-token accounts, and a generation on every account's secret.
--
-- SQLite cannot widen the CHECK on `kind` in place, so the table is rebuilt: copied into a new
-- one, the old one dropped, the new one renamed (the runner switches foreign keys off around it,
-- so the cooldowns and usage rows that name accounts keep pointing at the same ids).
--
-- `secret_generation` counts the secret's changes. A rotated cookie or a refreshed OAuth token is
-- written only over the generation it was derived from, so two writers cannot undo each other.

CREATE TABLE upstream_accounts_new (
    id                 INTEGER PRIMARY KEY,
    provider           TEXT    NOT NULL,
    kind               TEXT    NOT NULL CHECK (kind IN ('api-key', 'cookie', 'oauth')),
    base_url           TEXT,                          -- overrides the manifest's base URL
    models             TEXT    NOT NULL DEFAULT '[]', -- JSON array; empty serves every model of the provider
    priority           INTEGER NOT NULL DEFAULT 0,
    weight             INTEGER NOT NULL DEFAULT 1 CHECK (weight > 0),
    owner_user_id      INTEGER REFERENCES users (id), -- NULL: shared pool
    secret_ciphertext  BLOB    NOT NULL,              -- AES-GCM combined nonce|ciphertext|tag
    secret_key_version INTEGER NOT NULL,
    secret_generation  INTEGER NOT NULL DEFAULT 0,
    enabled            INTEGER NOT NULL DEFAULT 1,
    needs_reauth       INTEGER NOT NULL DEFAULT 0,
    share_mode         TEXT    NOT NULL DEFAULT 'private' CHECK (share_mode IN ('private', 'surplus')),
    reserve_percent    INTEGER NOT NULL DEFAULT 20 CHECK (reserve_percent BETWEEN 0 AND 100),
    max_concurrency    INTEGER CHECK (max_concurrency IS NULL OR max_concurrency > 0),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    removed_at         INTEGER
);

INSERT INTO upstream_accounts_new (
    id, provider, kind, base_url, models, priority, weight, owner_user_id, secret_ciphertext, secret_key_version,
    enabled, needs_reauth, share_mode, reserve_percent, max_concurrency, created_at, updated_at, removed_at)
SELECT
    id, provider, kind, base_url, models, priority, weight, owner_user_id, secret_ciphertext, secret_key_version,
    enabled, needs_reauth, share_mode, reserve_percent, max_concurrency, created_at, updated_at, removed_at
FROM upstream_accounts;

DROP TABLE upstream_accounts;
ALTER TABLE upstream_accounts_new RENAME TO upstream_accounts;
CREATE INDEX upstream_accounts_owner ON upstream_accounts (owner_user_id);
