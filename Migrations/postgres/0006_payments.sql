-- Stripe payments (see PaymentStore): who each Stripe customer is, what Sluice asked Stripe to
-- charge and what it credited for it, the subscriptions behind paid plans, the refunds taken
-- back, and every webhook event already handled, so a redelivered event changes nothing.

CREATE TABLE stripe_customers (
    user_id     BIGINT PRIMARY KEY REFERENCES users (id),
    customer_id TEXT    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL
);

-- One row per Checkout Session Sluice opened (cs_…) and per paid subscription invoice (in_…).
CREATE TABLE stripe_payments (
    object_id      TEXT    PRIMARY KEY,
    user_id        BIGINT  NOT NULL REFERENCES users (id),
    purpose        TEXT    NOT NULL CHECK (purpose IN ('pack', 'subscription', 'invoice')),
    item           TEXT    NOT NULL,  -- the pack's or the plan's name
    credits_micros BIGINT  NOT NULL CHECK (credits_micros >= 0),
    amount_cents   BIGINT  NOT NULL CHECK (amount_cents >= 0),
    currency       TEXT    NOT NULL,
    payment_intent TEXT,
    status         TEXT    NOT NULL CHECK (status IN ('open', 'paid')),
    created_at     BIGINT  NOT NULL,
    paid_at        BIGINT
);
CREATE INDEX stripe_payments_intent ON stripe_payments (payment_intent);

-- What each refund took back from a payment's credits, and what it could not because the
-- credits were spent already: the shortfall an admin settles by hand.
CREATE TABLE stripe_refunds (
    reference_id     TEXT    PRIMARY KEY,  -- stripe:refund:<charge>:<cumulative amount refunded>
    object_id        TEXT    NOT NULL REFERENCES stripe_payments (object_id),
    user_id          BIGINT  NOT NULL REFERENCES users (id),
    charge_id        TEXT    NOT NULL,
    refunded_cents   BIGINT  NOT NULL,
    taken_micros     BIGINT  NOT NULL CHECK (taken_micros >= 0),
    shortfall_micros BIGINT  NOT NULL CHECK (shortfall_micros >= 0),
    created_at       BIGINT  NOT NULL
);
CREATE INDEX stripe_refunds_object ON stripe_refunds (object_id);

CREATE TABLE stripe_subscriptions (
    subscription_id      TEXT    PRIMARY KEY,
    user_id              BIGINT  NOT NULL REFERENCES users (id),
    plan                 TEXT    NOT NULL,
    status               TEXT    NOT NULL,
    current_period_end   BIGINT,
    cancel_at_period_end BOOLEAN NOT NULL,
    version              BIGINT  NOT NULL,  -- the `created` time of the event that wrote it: older events lose
    updated_at           BIGINT  NOT NULL
);
CREATE INDEX stripe_subscriptions_user ON stripe_subscriptions (user_id, updated_at);

-- A webhook event is claimed while it is handled (until claimed_until) and done once processed.
CREATE TABLE stripe_events (
    event_id      TEXT    PRIMARY KEY,
    type          TEXT    NOT NULL,
    claimed_until BIGINT  NOT NULL,
    processed_at  BIGINT
);
