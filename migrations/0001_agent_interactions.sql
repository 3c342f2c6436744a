-- depends:
-- The audit trail of every agent interaction. Append-only: rows are never updated; an
-- interaction with two moments (claim creation) writes an intent row (outcome 'pending')
-- and later a result row whose intent_id names it.
CREATE TABLE agent_interactions (
    id              uuid        PRIMARY KEY,            -- UUIDv7, made by the writer
    created_at      timestamptz NOT NULL,
    conversation_id text,                               -- NULL only for refusals without one
    customer_id     text,
    intent          text        NOT NULL CHECK (intent IN ('policy_lookup', 'claim_create', 'claim_summary')),
    outcome         text        NOT NULL CHECK (outcome IN ('ok', 'error', 'denied', 'pending')),
    error_code      text,
    payload         jsonb       NOT NULL,               -- what was asked (redacted)
    result          jsonb,                              -- what was answered (redacted)
    request_id      text        NOT NULL,
    function_name   text        NOT NULL,
    channel         text        NOT NULL CHECK (channel IN ('http', 'direct', 'bedrock')),
    principal       text,
    idempotency_key text,
    duration_ms     numeric(12, 3),
    intent_id       uuid        REFERENCES agent_interactions (id),
    CHECK ((outcome = 'ok') = (error_code IS NULL) OR outcome = 'pending')
);

-- "A conversation's trail" and "a customer's history", newest last.
CREATE INDEX agent_interactions_conversation ON agent_interactions (conversation_id, created_at, id);
CREATE INDEX agent_interactions_customer ON agent_interactions (customer_id, created_at, id);
-- Find the result of an intent, and intents still without one.
CREATE INDEX agent_interactions_intent ON agent_interactions (intent_id) WHERE intent_id IS NOT NULL;
CREATE INDEX agent_interactions_pending ON agent_interactions (created_at) WHERE outcome = 'pending';

COMMENT ON TABLE agent_interactions IS 'Append-only audit trail of AI agent tool calls';
