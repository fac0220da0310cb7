-- Sign-in beyond passwords.
-- users.email_verified_at: when the user proved the address (a mail's link, or a provider that
-- vouches for it); NULL until then.
ALTER TABLE users ADD COLUMN email_verified_at INTEGER;

-- The accounts at SSO providers a user signs in with: one user per provider subject.
CREATE TABLE user_identities (
    provider   TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    email      TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);

-- Single-use secrets with an expiry: SSO states, two-factor tickets after SSO, and the links in
-- verification, reset and change-of-email mails. Only the SHA-256 of the secret is kept.
CREATE TABLE one_time_tokens (
    token_hash TEXT    PRIMARY KEY,
    purpose    TEXT    NOT NULL,
    user_id    INTEGER REFERENCES users (id),
    payload    TEXT    NOT NULL DEFAULT '{}',
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX one_time_tokens_user ON one_time_tokens (user_id, purpose);
CREATE INDEX one_time_tokens_expiry ON one_time_tokens (expires_at);

-- Mail waiting to be sent: written by requests, sent by the mail outbox off every request's path,
-- retried with backoff. Once sent or given up on, the body (which holds a live link) is erased;
-- the row stays for the record.
CREATE TABLE mail_outbox (
    id              INTEGER PRIMARY KEY,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    leased_until    INTEGER,
    sent_at         INTEGER,
    failed_at       INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
