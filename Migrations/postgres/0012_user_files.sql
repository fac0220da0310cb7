-- Users' uploaded files: the name and hash here, the bytes in the file storage under storage_key
-- (a key Sluice made, never the user's name).
CREATE TABLE user_files (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id),
    name         TEXT   NOT NULL,
    content_type TEXT   NOT NULL,
    size_bytes   BIGINT NOT NULL,
    sha256       TEXT   NOT NULL,
    storage_key  TEXT   NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL
);
CREATE INDEX user_files_user ON user_files (user_id, id);
