-- Back to migration 0003's trigger functions (unqualified names, no fixed search_path), its
-- canonical version 1 only, and TEMP for PUBLIC as PostgreSQL grants it by default.
DROP FUNCTION public.agent_interactions_canonical_v2(public.agent_interactions);
ALTER TABLE public.agent_interactions DROP COLUMN hash_version;
DO $$
BEGIN
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database());
END
$$;
-- Membership without the superuser shortcut pg_has_role applies: a superuser is not a
-- migrator unless it has switched to the role.
CREATE OR REPLACE FUNCTION agent_interactions_may_rewrite() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT FROM pg_roles r
        WHERE r.rolname = current_user
          AND NOT r.rolsuper
          AND pg_has_role(r.oid, 'insurance_agent_migrator', 'MEMBER')
    )
$$;

CREATE OR REPLACE FUNCTION agent_interactions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF agent_interactions_may_rewrite() THEN
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

-- Length-prefixed, so no two different rows encode alike; '~' is NULL, '0:' the empty string.
CREATE OR REPLACE FUNCTION agent_interactions_field(v text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN v IS NULL THEN '~' ELSE char_length(v) || ':' || v END
$$;

-- Canonical content, version 1: each stored column rendered as text in a form that does not
-- depend on session settings (jsonb's own normalised text, timestamps in UTC).
CREATE OR REPLACE FUNCTION agent_interactions_canonical(r agent_interactions) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT agent_interactions_field(r.id::text)
        || agent_interactions_field(
               to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        || agent_interactions_field(r.chain_key)
        || agent_interactions_field(r.conversation_id)
        || agent_interactions_field(r.customer_id)
        || agent_interactions_field(r.intent)
        || agent_interactions_field(r.outcome)
        || agent_interactions_field(r.error_code)
        || agent_interactions_field(r.payload::text)
        || agent_interactions_field(r.result::text)
        || agent_interactions_field(r.request_id)
        || agent_interactions_field(r.function_name)
        || agent_interactions_field(r.channel)
        || agent_interactions_field(r.principal)
        || agent_interactions_field(r.idempotency_key)
        || agent_interactions_field(r.duration_ms::text)
        || agent_interactions_field(r.intent_id::text)
$$;

-- Append a row to its chain. The transaction-level advisory lock (released at commit, and
-- unlike a session lock it does not pin an RDS Proxy connection) serialises writers of one
-- chain only; the unique index below turns any writer that got around it into an error,
-- never a fork. The lock's first key namespaces it from other advisory locks ('AUDI').
CREATE OR REPLACE FUNCTION agent_interactions_link(r agent_interactions) RETURNS agent_interactions
LANGUAGE plpgsql AS $$
DECLARE
    last_seq  bigint;
    last_hash text;
BEGIN
    r.chain_key := COALESCE(
        'conversation:' || r.conversation_id,
        'unattributed:' || to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'));
    PERFORM pg_advisory_xact_lock(1096107081, hashtext(r.chain_key));
    SELECT chain_seq, row_hash INTO last_seq, last_hash
    FROM agent_interactions
    WHERE chain_key = r.chain_key AND chain_seq IS NOT NULL
    ORDER BY chain_seq DESC
    LIMIT 1;
    r.chain_seq := COALESCE(last_seq, 0) + 1;
    r.prev_hash := COALESCE(last_hash, repeat('0', 64));
    r.row_hash := encode(
        sha256(convert_to(r.prev_hash || agent_interactions_canonical(r), 'UTF8')), 'hex');
    RETURN r;
END
$$;

CREATE OR REPLACE FUNCTION agent_interactions_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Nested, so the role lookup runs only for rows that arrive with a hash.
    IF NEW.row_hash IS NOT NULL THEN
        IF agent_interactions_may_rewrite() THEN
            RETURN NEW;  -- the migration role restoring rows verbatim (a backup, a copy)
        END IF;
    END IF;
    RETURN agent_interactions_link(NEW);
END
$$;

