-- depends: 0004_idempotency
-- Audit integrity, round 2 (issue 11). What changes, and why (docs/audit.md has the whole story):
--  * every trigger function runs with a fixed search_path (pg_catalog first, the temporary
--    schema last) and names every table and function by schema: a session can no longer shadow
--    pg_roles or agent_interactions with a temporary table and so forge or break a chain;
--  * PUBLIC loses TEMP on this database (nothing here needs temporary objects; they also pin an
--    RDS Proxy connection);
--  * the database sets created_at when it links a row (the writer's clock is not evidence), never
--    earlier than the chain's previous row, so a trail read by time reads in chain order;
--  * a conversation belongs to the customer of its first row that names one: a row naming
--    another customer is refused (SQLSTATE IA403), under the chain lock the trigger holds anyway;
--  * waiting for a chain's lock is bounded by lock_timeout on the trigger function itself
--    (nothing the client sends, so nothing that pins an RDS Proxy connection);
--  * canonical content version 2 hashes the row's version and chain_seq too (version 1 rows
--    keep verifying as version 1). ops/verify.py re-implements it: change both together.
-- Nothing here is SECURITY DEFINER: each function runs with its caller's rights, which are
-- enough (the writer may read the table it appends to and take advisory locks).

DO $$
BEGIN
    IF pg_catalog.to_regclass('public.agent_interactions') IS NULL THEN
        RAISE EXCEPTION 'agent_interactions is expected in schema public (migrations 0001-0004)';
    END IF;
END
$$;

-- Temporary tables are the tool of the search_path attack; nothing of ours needs them. Only the
-- database's owner (or a superuser) can revoke this: on RDS the master user owns the database
-- it created, so the deploy's migration run does it. Anyone else gets a warning and the
-- qualified names below still hold.
DO $$
BEGIN
    EXECUTE pg_catalog.format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC',
                              pg_catalog.current_database());
END
$$;

-- 1 for rows hashed by canonical version 1 (migration 0003), 2 from here on. The trigger sets
-- it; a value the writer sends is overwritten.
ALTER TABLE public.agent_interactions
    ADD COLUMN hash_version smallint NOT NULL DEFAULT 1 CHECK (hash_version IN (1, 2));

CREATE OR REPLACE FUNCTION public.agent_interactions_may_rewrite() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (
        SELECT FROM pg_catalog.pg_roles r
        WHERE r.rolname = current_user
          AND NOT r.rolsuper
          AND pg_catalog.pg_has_role(r.oid, 'insurance_agent_migrator', 'MEMBER')
    )
$$;

CREATE OR REPLACE FUNCTION public.agent_interactions_append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF public.agent_interactions_may_rewrite() THEN
        IF TG_LEVEL = 'STATEMENT' THEN
            RETURN NULL;
        ELSIF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'agent_interactions is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE FUNCTION public.agent_interactions_field(v text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN v IS NULL THEN '~' ELSE pg_catalog.char_length(v) || ':' || v END
$$;

-- Version 1, as migration 0003 defined it (kept for reference and for the rows it hashed).
CREATE OR REPLACE FUNCTION public.agent_interactions_canonical(r public.agent_interactions)
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

-- Version 2: the version and the row's position first, then version 1's fields.
CREATE FUNCTION public.agent_interactions_canonical_v2(r public.agent_interactions)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT public.agent_interactions_field(r.hash_version::text)
        || public.agent_interactions_field(r.chain_seq::text)
        || public.agent_interactions_canonical(r)
$$;

-- Append a row to its chain: lock the chain (a transaction-level advisory lock, which does not
-- pin an RDS Proxy connection), read its last row, refuse a row of another customer, stamp the
-- time and link. Every name is qualified and the search_path fixed, so the caller's session
-- cannot substitute its own pg_roles or agent_interactions.
CREATE OR REPLACE FUNCTION public.agent_interactions_link(r public.agent_interactions)
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

    -- The conversation's customer: the last row's if it names one (every row since the first
    -- that named one names the same), else the first row that does.
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

    -- Taken after the lock, so a chain's times follow its positions; never before the previous
    -- row's, should the clock step back.
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

-- lock_timeout here bounds the wait for a chain held by another transaction: the insert fails
-- with lock_not_available (55P03), the request answers 503 AUDIT_UNAVAILABLE, well inside the
-- function's 10 s budget. Set on the function, it is no client SET: nothing pins a proxy
-- connection, and the session's own setting is back once the trigger returns.
CREATE OR REPLACE FUNCTION public.agent_interactions_chain() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '1s'
AS $$
BEGIN
    -- Nested, so the role lookup runs only for rows that arrive with a hash.
    IF NEW.row_hash IS NOT NULL THEN
        IF public.agent_interactions_may_rewrite() THEN
            RETURN NEW;  -- the migration role restoring rows verbatim (a backup, a copy)
        END IF;
    END IF;
    RETURN public.agent_interactions_link(NEW);
END
$$;
