-- One row per sign-in (a refresh-token family): what a user sees in their list of sign-ins.
-- Whether it still stands is the family's refresh tokens' to say (a reused token revokes the
-- family); ended_at records an end the user or an admin asked for.
CREATE TABLE sign_ins (
    family_id    TEXT    PRIMARY KEY,
    user_id      BIGINT  NOT NULL REFERENCES users (id),
    device       TEXT    NOT NULL,
    address      TEXT,
    created_at   BIGINT  NOT NULL,
    last_used_at BIGINT  NOT NULL,
    ended_at     BIGINT
);
CREATE INDEX sign_ins_user ON sign_ins (user_id, last_used_at);
