-- Two-factor sign-in: a TOTP secret per user (sealed like account secrets), pending until the
-- first code confirms it; the last time step used, so a code works once; and recovery codes,
-- kept as SHA-256 and used once.
CREATE TABLE user_totp (
    user_id            INTEGER PRIMARY KEY REFERENCES users (id),
    secret_ciphertext  BLOB    NOT NULL,
    secret_key_version INTEGER NOT NULL,
    enabled_at         INTEGER,
    last_step          INTEGER
);
CREATE TABLE recovery_codes (
    user_id   INTEGER NOT NULL REFERENCES users (id),
    code_hash TEXT    NOT NULL,
    used_at   INTEGER,
    PRIMARY KEY (user_id, code_hash)
);
