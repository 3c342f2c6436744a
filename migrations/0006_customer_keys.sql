-- depends: 0005_audit_hardening
-- The right to erasure with an append-only, hash-chained trail (issue 11, 9; docs/audit.md):
-- a row's personal fields are stored sealed (AES-256-GCM) under its customer's data key, and
-- the keys live here, outside the rows. Erasing a customer destroys their keys: the rows and
-- their hashes (over the ciphertext) stay as they were and keep verifying, the personal fields
-- become unreadable. Idempotency records (whose replayed answers are sealed the same way) name
-- the key too, so an erasure deletes them.

CREATE TABLE customer_keys (
    key_id      uuid        PRIMARY KEY,
    customer_id text        NOT NULL,
    -- The data key, wrapped as `wrapping` says: 'kms' (AWS KMS, encryption context naming the
    -- customer), 'local' (AES-GCM under a wrapping key from the environment, development),
    -- 'none' (stored as is: development without a wrapping key). NULL once erased.
    wrapped_key bytea,
    wrapping    text        NOT NULL CHECK (wrapping IN ('kms', 'local', 'none')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    erased_at   timestamptz,
    CHECK ((wrapped_key IS NULL) = (erased_at IS NOT NULL))
);
-- One live key per customer; erased keys stay as tombstones (when, which key).
CREATE UNIQUE INDEX customer_keys_live ON customer_keys (customer_id) WHERE erased_at IS NULL;

COMMENT ON TABLE customer_keys IS 'Per-customer data keys sealing personal fields; erasure destroys them';

-- An erased key stays erased, and an erasure changes nothing but the key and its time.
CREATE FUNCTION public.customer_keys_erase_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF OLD.erased_at IS NOT NULL OR NEW.wrapped_key IS NOT NULL OR NEW.erased_at IS NULL
       OR NEW.key_id <> OLD.key_id OR NEW.customer_id <> OLD.customer_id
       OR NEW.wrapping <> OLD.wrapping OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'customer_keys: a key can only be erased'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER customer_keys_erase_only
    BEFORE UPDATE ON customer_keys
    FOR EACH ROW EXECUTE FUNCTION public.customer_keys_erase_only();

ALTER TABLE idempotency_records ADD COLUMN key_id uuid;  -- the key sealing response_data
CREATE INDEX idempotency_records_key ON idempotency_records (key_id) WHERE key_id IS NOT NULL;

-- The functions create and read keys; they never erase one.
REVOKE ALL ON customer_keys FROM PUBLIC;
GRANT SELECT, INSERT ON customer_keys TO insurance_agent_app;

-- Who may erase: `python -m ops erase` runs as a login granted this role (an operator acting on
-- a data subject's request). It can read keys' ids and erase them, and delete the idempotency
-- records they sealed; it cannot read or change the audit trail.
DO $$
BEGIN
    CREATE ROLE insurance_agent_eraser NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- roles are cluster-wide: another database of this cluster made it first
END
$$;
GRANT SELECT (key_id, customer_id, erased_at), UPDATE (wrapped_key, erased_at)
    ON customer_keys TO insurance_agent_eraser;
GRANT SELECT (key_id), DELETE ON idempotency_records TO insurance_agent_eraser;
