-- depends:
-- The reference insurance service's own schema: the upstream system of record in
-- development and tests. The API layer never touches it except over HTTP.
CREATE SCHEMA IF NOT EXISTS reference;

CREATE TABLE reference.customers (
    customer_id   text PRIMARY KEY,
    full_name     text NOT NULL,
    email         text NOT NULL,
    phone         text NOT NULL,
    date_of_birth date NOT NULL,
    national_id   text NOT NULL
);

CREATE TABLE reference.policies (
    policy_number   text PRIMARY KEY,
    customer_id     text NOT NULL REFERENCES reference.customers,
    status          text NOT NULL CHECK (status IN ('active', 'lapsed', 'cancelled', 'expired')),
    product_line    text NOT NULL,
    effective_date  date NOT NULL,
    expiration_date date NOT NULL,
    terminated_on   date,
    currency        char(3) NOT NULL,
    aggregate_limit numeric(15, 2) NOT NULL,
    deductible      numeric(15, 2) NOT NULL
);

CREATE TABLE reference.coverages (
    policy_number text NOT NULL REFERENCES reference.policies,
    peril         text NOT NULL,
    limit_amount  numeric(15, 2) NOT NULL,
    deductible    numeric(15, 2) NOT NULL,
    PRIMARY KEY (policy_number, peril)
);

CREATE SEQUENCE reference.claim_number START 1000;

CREATE TABLE reference.claims (
    claim_id        text PRIMARY KEY,
    policy_number   text NOT NULL REFERENCES reference.policies,
    customer_id     text NOT NULL REFERENCES reference.customers,
    status          text NOT NULL,
    loss_date       date NOT NULL,
    loss_type       text NOT NULL,
    description     text NOT NULL,
    loss_location   text,
    amount_claimed  numeric(15, 2) NOT NULL,
    currency        char(3) NOT NULL,
    paid_amount     numeric(15, 2) NOT NULL DEFAULT 0,
    reserve_amount  numeric(15, 2) NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    idempotency_key text UNIQUE,
    request_hash    text
);
CREATE INDEX claims_policy ON reference.claims (policy_number);
