-- The metering API for the operator's other services (see MeteringStore): service accounts and
-- their scoped tokens, users known by an external id (auth0|…), and the usage events services
-- record. Money moves through the ledger like any other entry.

ALTER TABLE users ADD COLUMN external_id TEXT;
ALTER TABLE users ADD COLUMN name TEXT;
CREATE UNIQUE INDEX users_external_id ON users (external_id);

CREATE TABLE service_accounts (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    created_by INTEGER REFERENCES users (id),
    created_at INTEGER NOT NULL
);

-- Tokens are shown once and kept as SHA-256; scopes is a JSON array.
CREATE TABLE service_tokens (
    id                 INTEGER PRIMARY KEY,
    service_account_id INTEGER NOT NULL REFERENCES service_accounts (id),
    name               TEXT    NOT NULL,
    token_hash         TEXT    NOT NULL UNIQUE,
    prefix             TEXT    NOT NULL,
    scopes             TEXT    NOT NULL,
    expires_at         INTEGER,
    revoked_at         INTEGER,
    last_used_at       INTEGER,
    created_at         INTEGER NOT NULL
);
CREATE INDEX service_tokens_account ON service_tokens (service_account_id);

-- One row per usage event a service recorded, once per (service, request id).
CREATE TABLE usage_events (
    id                     INTEGER PRIMARY KEY,
    user_id                INTEGER NOT NULL REFERENCES users (id),
    service_account_id     INTEGER NOT NULL REFERENCES service_accounts (id),
    request_id             TEXT    NOT NULL,
    event_type             TEXT    NOT NULL,
    endpoint               TEXT,
    model_name             TEXT,
    provider               TEXT,
    prompt_tokens          INTEGER NOT NULL,
    completion_tokens      INTEGER NOT NULL,
    tokens_used            INTEGER NOT NULL,
    credits_charged_micros INTEGER NOT NULL,
    calculation_method     TEXT    NOT NULL,  -- 'provided' or 'manifest_price'
    session_id             TEXT,
    trace_id               TEXT,
    metadata               TEXT,              -- JSON object, as sent
    created_at             INTEGER NOT NULL,
    UNIQUE (service_account_id, request_id)
);
CREATE INDEX usage_events_user ON usage_events (user_id, id);

-- Outbound webhooks (see WebhookStore). An event is written to webhook_events in the same
-- transaction as what it reports, only while some endpoint wants its type; the dispatcher fans
-- it out into one delivery per endpoint, each retried with backoff and sent in order per user.
ALTER TABLE users ADD COLUMN low_balance_micros INTEGER;  -- balance.low threshold; NULL: the plan's

CREATE TABLE webhook_endpoints (
    id                 INTEGER PRIMARY KEY,
    url                TEXT    NOT NULL,
    secret_ciphertext  BLOB    NOT NULL,  -- the signing secret, sealed like account secrets
    secret_key_version INTEGER NOT NULL,
    event_types        TEXT    NOT NULL,  -- JSON array
    created_at         INTEGER NOT NULL,
    deleted_at         INTEGER
);

CREATE TABLE webhook_events (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER,  -- NULL for events about shared accounts
    type       TEXT    NOT NULL,
    payload    TEXT    NOT NULL,  -- JSON object
    created_at INTEGER NOT NULL,
    fanned_out INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_events_pending ON webhook_events (fanned_out, id);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    endpoint_id     INTEGER NOT NULL REFERENCES webhook_endpoints (id),
    user_id         INTEGER,
    type            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, user_id, status, id);
