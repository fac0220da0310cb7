-- Checkpoints of running requests (see InFlightStore): what each would be charged if its
-- instance died now, owned by that instance until lease_until. The columns are usage_logs',
-- with cost_micros holding the cost so far; the row goes when the usage row is written.
CREATE TABLE requests_in_flight (
    request_id         TEXT    PRIMARY KEY,
    instance_id        TEXT    NOT NULL,
    lease_until        BIGINT  NOT NULL,
    user_id            BIGINT  NOT NULL,
    api_key_id         BIGINT  NOT NULL,
    key_budgeted       BOOLEAN NOT NULL,
    model              TEXT    NOT NULL,
    served_model       TEXT,
    client_protocol    TEXT,
    upstream_protocol  TEXT,
    provider           TEXT,
    account_id         BIGINT,
    prompt_tokens      BIGINT  NOT NULL,
    completion_tokens  BIGINT  NOT NULL,
    cached_tokens      BIGINT  NOT NULL,
    cache_write_tokens BIGINT  NOT NULL,
    cost_micros        BIGINT  NOT NULL,
    cost_estimated     BOOLEAN NOT NULL,
    latency_ms         BIGINT  NOT NULL,
    ttft_ms            BIGINT,
    status             BIGINT  NOT NULL,
    end_reason         TEXT    NOT NULL,
    stream             BOOLEAN NOT NULL,
    created_at         BIGINT  NOT NULL
);
CREATE INDEX requests_in_flight_lease ON requests_in_flight (lease_until);
