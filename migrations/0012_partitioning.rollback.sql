-- Back to one table, rows copied verbatim. Refused while retired chains exist: their rows are
-- gone from the database, and a single table would link those chains' next rows from scratch.
DO $$
BEGIN
    IF EXISTS (SELECT FROM public.agent_interactions_retired_tails) THEN
        RAISE EXCEPTION 'partitions were retired: the trail cannot go back to one table';
    END IF;
END
$$;

ALTER TABLE public.agent_interactions RENAME TO agent_interactions_partitioned;
CREATE TABLE public.agent_interactions (
    LIKE public.agent_interactions_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS
);
INSERT INTO public.agent_interactions SELECT * FROM public.agent_interactions_partitioned;

DROP FUNCTION public.agent_interactions_link(public.agent_interactions_partitioned);
DROP FUNCTION public.agent_interactions_canonical_v2(public.agent_interactions_partitioned);
DROP FUNCTION public.agent_interactions_canonical(public.agent_interactions_partitioned);
DROP TABLE public.agent_interactions_partitioned;  -- and its partitions
DROP TABLE public.agent_interactions_retired_tails;
DROP FUNCTION public.agent_interactions_ensure_partitions(integer);
DROP FUNCTION public.agent_interactions_rows_in_default();
DROP FUNCTION public.agent_interactions_add_partition(date);
DROP FUNCTION public.agent_interactions_day_start(date);

ALTER TABLE public.agent_interactions
    ADD CONSTRAINT agent_interactions_pkey PRIMARY KEY (id),
    ADD CONSTRAINT agent_interactions_intent_id_fkey
        FOREIGN KEY (intent_id) REFERENCES public.agent_interactions (id);
COMMENT ON TABLE public.agent_interactions IS 'Append-only audit trail of AI agent tool calls';

CREATE FUNCTION public.agent_interactions_canonical(r public.agent_interactions)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT public.agent_interactions_field(r.id::text)
        || public.agent_interactions_field(
               pg_catalog.to_char(r.created_at AT TIME ZONE 'UTC',
                                  'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        || public.agent_interactions_field(r.chain_key)
        || public.agent_interactions_field(r.conversation_id)
        || public.agent_interactions_field(r.customer_id)
        || public.agent_interactions_field(r.intent)
        || public.agent_interactions_field(r.outcome)
        || public.agent_interactions_field(r.error_code)
        || public.agent_interactions_field(r.payload::text)
        || public.agent_interactions_field(r.result::text)
        || public.agent_interactions_field(r.request_id)
        || public.agent_interactions_field(r.function_name)
        || public.agent_interactions_field(r.channel)
        || public.agent_interactions_field(r.principal)
        || public.agent_interactions_field(r.idempotency_key)
        || public.agent_interactions_field(r.duration_ms::text)
        || public.agent_interactions_field(r.intent_id::text)
$$;

CREATE FUNCTION public.agent_interactions_canonical_v2(r public.agent_interactions)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.string_agg(
               CASE WHEN f.v IS NULL THEN '~' ELSE pg_catalog.char_length(f.v) || ':' || f.v END,
               '' ORDER BY f.n)
    FROM pg_catalog.unnest(ARRAY[
        r.hash_version::text,
        r.chain_seq::text,
        r.id::text,
        pg_catalog.to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        r.chain_key,
        r.conversation_id,
        r.customer_id,
        r.intent,
        r.outcome,
        r.error_code,
        r.payload::text,
        r.result::text,
        r.request_id,
        r.function_name,
        r.channel,
        r.principal,
        r.idempotency_key,
        r.duration_ms::text,
        r.intent_id::text
    ]) WITH ORDINALITY AS f(v, n)
$$;

CREATE FUNCTION public.agent_interactions_link(r public.agent_interactions)
RETURNS public.agent_interactions
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    arrived   timestamptz := pg_catalog.clock_timestamp();
    last_seq  bigint;
    last_hash text;
    last_at   timestamptz;
    last_cust text;
    owner     text;
BEGIN
    r.chain_key := COALESCE(
        'conversation:' || r.conversation_id,
        'unattributed:' || pg_catalog.to_char(arrived AT TIME ZONE 'UTC', 'YYYY-MM-DD'));
    PERFORM pg_catalog.pg_advisory_xact_lock(1096107081, pg_catalog.hashtext(r.chain_key));
    SELECT a.chain_seq, a.row_hash, a.created_at, a.customer_id
    INTO last_seq, last_hash, last_at, last_cust
    FROM public.agent_interactions a
    WHERE a.chain_key = r.chain_key
    ORDER BY a.chain_seq DESC
    LIMIT 1;
    IF r.conversation_id IS NOT NULL AND r.customer_id IS NOT NULL AND last_seq IS NOT NULL THEN
        owner := last_cust;
        IF owner IS NULL THEN
            SELECT a.customer_id INTO owner
            FROM public.agent_interactions a
            WHERE a.chain_key = r.chain_key AND a.customer_id IS NOT NULL
            ORDER BY a.chain_seq
            LIMIT 1;
        END IF;
        IF owner IS NOT NULL AND owner <> r.customer_id THEN
            RAISE EXCEPTION 'conversation % belongs to another customer', r.conversation_id
                USING ERRCODE = 'IA403';
        END IF;
    END IF;
    r.created_at := GREATEST(pg_catalog.clock_timestamp(), last_at);
    r.hash_version := 2;
    r.chain_seq := COALESCE(last_seq, 0) + 1;
    r.prev_hash := COALESCE(last_hash, pg_catalog.repeat('0', 64));
    r.row_hash := pg_catalog.encode(
        pg_catalog.sha256(pg_catalog.convert_to(
            r.prev_hash || public.agent_interactions_canonical_v2(r), 'UTF8')),
        'hex');
    RETURN r;
END
$$;

CREATE OR REPLACE FUNCTION public.agent_interactions_chain() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '1s'
AS $$
BEGIN
    IF NEW.row_hash IS NOT NULL THEN
        IF public.agent_interactions_may_rewrite() THEN
            RETURN NEW;
        END IF;
    END IF;
    RETURN public.agent_interactions_link(NEW);
END
$$;

CREATE UNIQUE INDEX agent_interactions_chain_position ON public.agent_interactions (chain_key, chain_seq);
CREATE INDEX agent_interactions_conversation ON public.agent_interactions (conversation_id, created_at, id);
CREATE INDEX agent_interactions_customer ON public.agent_interactions (customer_id, created_at, id);
CREATE INDEX agent_interactions_intent ON public.agent_interactions (intent_id) WHERE intent_id IS NOT NULL;
CREATE INDEX agent_interactions_pending ON public.agent_interactions (created_at) WHERE outcome = 'pending';
CREATE INDEX agent_interactions_created ON public.agent_interactions (created_at, id);
CREATE INDEX agent_interactions_decision_claim ON public.agent_interactions ((payload ->> 'claim_id'))
    WHERE intent = 'triage_decision';

CREATE TRIGGER agent_interactions_no_update_delete
    BEFORE UPDATE OR DELETE ON public.agent_interactions
    FOR EACH ROW EXECUTE FUNCTION public.agent_interactions_append_only();
CREATE TRIGGER agent_interactions_no_truncate
    BEFORE TRUNCATE ON public.agent_interactions
    FOR EACH STATEMENT EXECUTE FUNCTION public.agent_interactions_append_only();
CREATE TRIGGER agent_interactions_chain
    BEFORE INSERT ON public.agent_interactions
    FOR EACH ROW EXECUTE FUNCTION public.agent_interactions_chain();
CREATE TRIGGER agent_interactions_decision_evidence
    BEFORE INSERT ON public.agent_interactions
    FOR EACH ROW EXECUTE FUNCTION public.agent_interactions_decision_evidence();

REVOKE ALL ON public.agent_interactions FROM PUBLIC;
GRANT SELECT, INSERT ON public.agent_interactions TO insurance_agent_app;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.agent_interactions TO insurance_agent_migrator;
GRANT SELECT ON public.agent_interactions TO insurance_agent_sealer;
