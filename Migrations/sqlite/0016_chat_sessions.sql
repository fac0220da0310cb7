-- Chat sessions a user keeps, and their messages. The totals on chat_sessions are kept by the
-- same transaction that adds a message, so they equal the sums over its messages.
CREATE TABLE chat_sessions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          INTEGER NOT NULL REFERENCES users (id),
    title            TEXT    NOT NULL,
    status           TEXT    NOT NULL DEFAULT 'active',   -- active | archived
    metadata         TEXT,                                -- a JSON object
    message_count    INTEGER NOT NULL DEFAULT 0,
    total_tokens     INTEGER NOT NULL DEFAULT 0,
    total_cost_micros INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    last_activity    INTEGER NOT NULL
);
CREATE INDEX chat_sessions_user ON chat_sessions (user_id, id);

CREATE TABLE chat_messages (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   INTEGER NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    role         TEXT    NOT NULL,
    content      TEXT    NOT NULL,
    message_type TEXT    NOT NULL DEFAULT 'text',
    tokens       INTEGER NOT NULL DEFAULT 0,
    cost_micros  INTEGER NOT NULL DEFAULT 0,
    metadata     TEXT,
    -- Set for messages recorded from a /v1 request: each is written once per request and role.
    request_id   TEXT,
    created_at   INTEGER NOT NULL
);
CREATE INDEX chat_messages_session ON chat_messages (session_id, id);
CREATE UNIQUE INDEX chat_messages_request ON chat_messages (session_id, request_id, role) WHERE request_id IS NOT NULL;

-- A key flagged so: its /v1/chat/completions requests with an x-session-id are recorded there.
ALTER TABLE api_keys ADD COLUMN record_conversations INTEGER NOT NULL DEFAULT 0;
