-- Responses the /v1/responses API keeps, so a later request may continue one by its
-- previous_response_id: the conversation in chat form, the answer included, for the key that
-- made it, until it expires (responses.retention_hours).
CREATE TABLE stored_responses (
    id          TEXT    PRIMARY KEY,
    api_key_id  INTEGER NOT NULL REFERENCES api_keys (id),
    messages    TEXT    NOT NULL,  -- JSON array of chat messages
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX stored_responses_expiry ON stored_responses (expires_at);
