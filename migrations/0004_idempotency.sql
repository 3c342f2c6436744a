-- depends: 0003_audit_chain
-- Idempotency records for claim creation (Powertools' idempotency utility, persistence layer in
-- insurance_agent/idempotency.py). One row per (operation, customer, Idempotency-Key), the key
-- column holding "<operation>#<sha256 of customer and key>". Unlike the audit trail these rows
-- are working state: taken over in place once expired, purged by `python -m ops
-- purge-idempotency`. The expiry index serves the purge.
CREATE TABLE idempotency_records (
    idempotency_key        text        PRIMARY KEY,
    status                 text        NOT NULL CHECK (status IN ('INPROGRESS', 'COMPLETED')),
    expires_at             timestamptz NOT NULL,  -- the record's TTL (IDEMPOTENCY_TTL_S)
    in_progress_expires_at timestamptz,           -- when the invocation holding it times out
    payload_hash           text        NOT NULL,  -- the request it was made for (conflicts)
    response_data          jsonb,                 -- the first answer, replayed to retries
    updated_at             timestamptz NOT NULL
);
CREATE INDEX idempotency_records_expiry ON idempotency_records (expires_at);

COMMENT ON TABLE idempotency_records IS 'Idempotency records of claim creation (expire; not audit)';

-- Exactly what the persistence layer does: read a record, insert or take over one, complete
-- it, and delete it when the filing failed (so a retry may file again).
REVOKE ALL ON idempotency_records FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_records TO insurance_agent_app;
