-- Two-factor sign-in: a TOTP secret per user (sealed like account secrets), pending until the
-- first code confirms it; the last time step used, so a code works once; and recovery codes,
-- kept as SHA-256 and used once.
CREATE TABLE user_totp (
    user_id            BIGINT  PRIMARY KEY REFERENCES users (id),
    secret_ciphertext  BYTEA   NOT NULL,
    secret_key_version BIGINT  NOT NULL,
    enabled_at         BIGINT,
    last_step          BIGINT
);
CREATE TABLE recovery_codes (
    user_id   BIGINT  NOT NULL REFERENCES users (id),
    code_hash TEXT    NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);
