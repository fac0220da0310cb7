-- Checkpoints of running requests (see InFlightStore): what each would be charged if its
-- instance died now, owned by that instance until lease_until. The columns are usage_logs',
-- with cost_micros holding the cost so far; the row goes when the usage row is written.
CREATE TABLE requests_in_flight (
    request_id         TEXT    PRIMARY KEY,
    instance_id        TEXT    NOT NULL,
    lease_until        INTEGER NOT NULL,
    user_id            INTEGER NOT NULL,
    api_key_id         INTEGER NOT NULL,
    key_budgeted       INTEGER NOT NULL,
    model              TEXT    NOT NULL,
    served_model       TEXT,
    client_protocol    TEXT,
    upstream_protocol  TEXT,
    provider           TEXT,
    account_id         INTEGER,
    prompt_tokens      INTEGER NOT NULL,
    completion_tokens  INTEGER NOT NULL,
    cached_tokens      INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost_micros        INTEGER NOT NULL,
    cost_estimated     INTEGER NOT NULL,
    latency_ms         INTEGER NOT NULL,
    ttft_ms            INTEGER,
    status             INTEGER NOT NULL,
    end_reason         TEXT    NOT NULL,
    stream             INTEGER NOT NULL,
    created_at         INTEGER NOT NULL
);
CREATE INDEX requests_in_flight_lease ON requests_in_flight (lease_until);
