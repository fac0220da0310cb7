-- The gateway core: users, their API keys, upstream accounts, the credit ledger and usage logs.
-- Money is integer micro-credits. Times are integer Unix milliseconds.

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    email          TEXT    NOT NULL UNIQUE,
    status         TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'muted')),
    role           TEXT    NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    balance_micros INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users (id),
    name           TEXT    NOT NULL DEFAULT '',
    key_hash       TEXT    NOT NULL UNIQUE,  -- hex SHA-256 of the whole key; the key itself is never stored
    prefix         TEXT    NOT NULL,         -- first characters, for people to recognise the key
    allowed_models TEXT,                     -- JSON array of model ids; NULL allows every model
    expires_at     INTEGER,
    revoked_at     INTEGER,
    last_used_at   INTEGER,
    created_at     INTEGER NOT NULL
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE upstream_accounts (
    id                 INTEGER PRIMARY KEY,
    provider           TEXT    NOT NULL,
    kind               TEXT    NOT NULL CHECK (kind IN ('api-key', 'cookie')),
    base_url           TEXT,                          -- overrides the manifest's base URL
    models             TEXT    NOT NULL DEFAULT '[]', -- JSON array; empty serves every model of the provider
    priority           INTEGER NOT NULL DEFAULT 0,
    weight             INTEGER NOT NULL DEFAULT 1 CHECK (weight > 0),
    owner_user_id      INTEGER REFERENCES users (id), -- NULL: shared pool
    secret_ciphertext  BLOB    NOT NULL,              -- AES-GCM combined nonce|ciphertext|tag
    secret_key_version INTEGER NOT NULL,
    enabled            INTEGER NOT NULL DEFAULT 1,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

CREATE TABLE credit_ledger (
    id                    INTEGER PRIMARY KEY,
    user_id               INTEGER NOT NULL REFERENCES users (id),
    kind                  TEXT    NOT NULL CHECK (kind IN ('recharge', 'grant', 'consume', 'refund', 'adjust')),
    amount_micros         INTEGER NOT NULL,
    balance_before_micros INTEGER NOT NULL,
    balance_after_micros  INTEGER NOT NULL,
    reference_id          TEXT    NOT NULL UNIQUE,  -- request id or grant reference: settles happen once
    note                  TEXT,
    created_at            INTEGER NOT NULL,
    CHECK (balance_after_micros = balance_before_micros + amount_micros)
);
CREATE INDEX credit_ledger_user ON credit_ledger (user_id, id);

CREATE TABLE usage_logs (
    id                INTEGER PRIMARY KEY,
    request_id        TEXT    NOT NULL UNIQUE,
    user_id           INTEGER NOT NULL REFERENCES users (id),
    api_key_id        INTEGER NOT NULL REFERENCES api_keys (id),
    model             TEXT    NOT NULL,
    provider          TEXT,
    account_id        INTEGER REFERENCES upstream_accounts (id),
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens     INTEGER NOT NULL,
    cost_micros       INTEGER NOT NULL,  -- what was charged; equals the consume entry's amount
    cost_estimated    INTEGER NOT NULL,  -- 1 when the upstream sent no usage and tokens were estimated
    latency_ms        INTEGER NOT NULL,
    ttft_ms           INTEGER,
    status            INTEGER NOT NULL,  -- HTTP status the client saw
    end_reason        TEXT    NOT NULL,  -- completed, upstream_error, client_disconnect, no_account, ...
    stream            INTEGER NOT NULL,
    created_at        INTEGER NOT NULL
);
CREATE INDEX usage_logs_user ON usage_logs (user_id, id);
