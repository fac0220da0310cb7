-- Teams (see TeamStore): a shared wallet, its members and their roles, and invitations to join.
-- A team's money lives on a wallet: a users row of kind 'team' that cannot sign in. Everything
-- that moves a user's balance (holds, settlement, ledger, grants, payments) so moves a team's.
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'team'));

CREATE TABLE teams (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL,
    wallet_user_id INTEGER NOT NULL UNIQUE REFERENCES users (id),
    created_at     INTEGER NOT NULL
);

-- Who belongs to a team, with what role, and what they may spend of its wallet. AUTOINCREMENT:
-- api_keys.team_member_id names memberships, and an ended one's id must never come back for
-- another member, or its old keys and usage would be taken for theirs.
CREATE TABLE team_members (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id            INTEGER NOT NULL REFERENCES teams (id),
    user_id            INTEGER NOT NULL REFERENCES users (id),
    role               TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    spend_limit_micros INTEGER,                       -- NULL: no limit
    spent_micros       INTEGER NOT NULL DEFAULT 0,    -- settled spend of the member's team keys
    created_at         INTEGER NOT NULL,
    UNIQUE (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);
-- At most one owner per team; ownership moves by demoting the owner first, then promoting.
CREATE UNIQUE INDEX team_members_owner ON team_members (team_id) WHERE role = 'owner';

-- Invitations by email: the link carries a token whose hash is kept. Used once, for a while.
CREATE TABLE team_invitations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id     INTEGER NOT NULL REFERENCES teams (id),
    email       TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('admin', 'member')),
    token_hash  TEXT    NOT NULL UNIQUE,              -- hex SHA-256 of the token in the link
    invited_by  INTEGER NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_at INTEGER                               -- NULL: pending
);
CREATE INDEX team_invitations_team ON team_invitations (team_id);

-- A team key belongs to the wallet and names the membership that made it. No foreign key on
-- purpose: a membership is deleted when it ends, and its (revoked) keys stay for the usage log.
ALTER TABLE api_keys ADD COLUMN team_member_id INTEGER;
CREATE INDEX api_keys_team_member ON api_keys (team_member_id) WHERE team_member_id IS NOT NULL;

-- A running request with a team key whose member has a spending limit is held against it too.
ALTER TABLE requests_in_flight ADD COLUMN member_budget_id INTEGER;
