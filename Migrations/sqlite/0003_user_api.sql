-- The self-service and admin API: sign-in, plans, per-key limits, refresh tokens, idempotent
-- admin writes, redemption codes and the activity log.

ALTER TABLE users ADD COLUMN password_hash TEXT;  -- bcrypt; NULL: the user cannot sign in with a password
ALTER TABLE users ADD COLUMN trust_level INTEGER NOT NULL DEFAULT 0 CHECK (trust_level BETWEEN 0 AND 4);
ALTER TABLE users ADD COLUMN plan TEXT NOT NULL DEFAULT 'free';
CREATE UNIQUE INDEX users_email_nocase ON users (email COLLATE NOCASE);

ALTER TABLE api_keys ADD COLUMN rpm_limit INTEGER;           -- requests per minute; NULL: no limit
ALTER TABLE api_keys ADD COLUMN tpm_limit INTEGER;           -- tokens per minute; NULL: no limit
ALTER TABLE api_keys ADD COLUMN spend_limit_micros INTEGER;  -- credits this key may spend in all; NULL: no limit
ALTER TABLE api_keys ADD COLUMN spent_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN ip_allowlist TEXT;           -- JSON array of CIDRs; NULL: any address

-- Refresh tokens: stored hashed, used once. A family is one sign-in and every token rotated from
-- it; presenting a token that was already used revokes the whole family.
CREATE TABLE refresh_tokens (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    family_id  TEXT    NOT NULL,
    token_hash TEXT    NOT NULL UNIQUE,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- First answers of idempotent writes, replayed for a repeated Idempotency-Key.
CREATE TABLE idempotency_keys (
    scope        TEXT    NOT NULL,  -- the endpoint and the caller
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,  -- SHA-256 of the body: the same key with another body is refused
    status       INTEGER NOT NULL,
    body         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE redemption_codes (
    id           INTEGER PRIMARY KEY,
    code_hash    TEXT    NOT NULL UNIQUE,  -- SHA-256; the code is shown once, when it is made
    prefix       TEXT    NOT NULL,
    value_micros INTEGER NOT NULL CHECK (value_micros > 0),
    max_uses     INTEGER NOT NULL CHECK (max_uses > 0),
    used_count   INTEGER NOT NULL DEFAULT 0,
    expires_at   INTEGER,
    created_by   INTEGER REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    CHECK (used_count <= max_uses)
);

CREATE TABLE redemptions (
    code_id    INTEGER NOT NULL REFERENCES redemption_codes (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (code_id, user_id)
);

-- Who did what to an account, when and from where.
CREATE TABLE activity_log (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),  -- whose account it concerns
    actor_id   INTEGER REFERENCES users (id),           -- who did it; NULL: the system or the CLI
    action     TEXT    NOT NULL,
    detail     TEXT,
    ip         TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX activity_log_user ON activity_log (user_id, id);
CREATE INDEX usage_logs_user_time ON usage_logs (user_id, created_at);
