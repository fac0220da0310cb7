-- Upstream account state that must survive a restart: cooldowns per scope, and accounts whose
-- credential the provider rejected for good (they wait for their owner or an admin).

CREATE TABLE account_cooldowns (
    account_id      INTEGER NOT NULL REFERENCES upstream_accounts (id) ON DELETE CASCADE,
    model           TEXT    NOT NULL DEFAULT '',  -- '' is the whole account
    cooling_until   INTEGER NOT NULL,             -- Unix milliseconds
    reason          TEXT    NOT NULL,
    level           INTEGER NOT NULL,
    verify_at       INTEGER,
    last_failure_at INTEGER,
    PRIMARY KEY (account_id, model)
);

ALTER TABLE upstream_accounts ADD COLUMN needs_reauth INTEGER NOT NULL DEFAULT 0;
