-- Back to migration 0005's version 2 (the same text, field by field).
CREATE OR REPLACE FUNCTION public.agent_interactions_canonical_v2(r public.agent_interactions)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT public.agent_interactions_field(r.hash_version::text)
        || public.agent_interactions_field(r.chain_seq::text)
        || public.agent_interactions_canonical(r)
$$;
