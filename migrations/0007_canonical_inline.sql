-- depends: 0006_customer_keys
-- Canonical content version 2 (migration 0005) computed in one function, the same text, much
-- cheaper: a function with a SET clause (0005 gave every helper `SET search_path`) is never
-- inlined and saves and restores the setting on every call, so 0005's version, calling
-- agent_interactions_field() 19 times per row, cost about 15 times as much (measured in one
-- statement over 2,000 rows: 0.7 ms against 0.05 ms per row). Hashes do not change: rows written
-- under 0005 verify the same. ops/verify.py and docs/audit.md describe the form.
CREATE OR REPLACE FUNCTION public.agent_interactions_canonical_v2(r public.agent_interactions)
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
