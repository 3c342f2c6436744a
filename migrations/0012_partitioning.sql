-- depends: 0007_canonical_inline 0008_transparency 0011_usecases
-- The audit trail kept at scale (issue 14 section 3; docs/transparency.md "Kept at scale"):
-- agent_interactions becomes a table partitioned by day. What holds across partitions, and how:
--  * partitioned by RANGE (id), not created_at: the id is a UUIDv7 the writer makes, whose first
--    48 bits are its milliseconds since the epoch, so a day is one id range. The chain trigger
--    stamps created_at itself (migration 0005); were created_at the key, a row routed by the
--    writer's value at 23:59:59.999 and stamped 00:00:00.001 would have to move partition inside
--    a BEFORE trigger, which PostgreSQL refuses. The id never changes, and the primary key stays
--    (id) alone, as a partitioned table's unique indexes must hold the partition key;
--  * a chain's position (chain_key, chain_seq) is unique inside each partition (an index made
--    with the partition); across partitions the chain trigger serialises a chain's writers
--    (advisory lock) and reads its last row, so positions are unique by construction, and
--    `ops verify` checks it for the whole trail;
--  * intent_id: a foreign key into a partitioned table would forbid detaching the day that holds
--    an intent while a newer day holds its result; the chain trigger checks it instead
--    (SQLSTATE 23503, as the key did);
--  * row triggers and indexes declared on the parent are cloned onto every partition, present
--    and future; TRUNCATE triggers are not, so each partition gets its own. Grants stay on the
--    parent: nothing but the owner reads or writes a partition by name;
--  * rows go to a DEFAULT partition when no day partition exists yet (never an error); the
--    housekeeping function creates the next days ahead (agent_interactions_ensure_partitions);
--  * retention detaches the oldest day (`python -m ops retire`) after exporting it with proofs;
--    each retired chain's last row is kept in agent_interactions_retired_tails, so the chain
--    continues from it (same customer, next position, linked to its hash) and `ops verify`
--    starts from it.
-- The table is rebuilt and its rows copied verbatim (hashes, times and positions unchanged): on
-- a large trail run this migration in a maintenance window (docs/transparency.md).

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_partitioned_table p
               WHERE p.partrelid = 'public.agent_interactions'::regclass) THEN
        RAISE EXCEPTION 'agent_interactions is partitioned already';
    END IF;
END
$$;

-- The lowest UUIDv7 of a UTC day: its first 48 bits are the day's first millisecond.
CREATE FUNCTION public.agent_interactions_day_start(d date) RETURNS uuid
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT (pg_catalog.substr(h, 1, 8) || '-' || pg_catalog.substr(h, 9, 4)
            || '-0000-0000-000000000000')::uuid
    FROM (SELECT pg_catalog.lpad(pg_catalog.to_hex(
              (EXTRACT(EPOCH FROM d::timestamp) * 1000)::bigint), 12, '0') AS h) s
$$;

ALTER TABLE public.agent_interactions RENAME TO agent_interactions_unpartitioned;

CREATE TABLE public.agent_interactions (
    LIKE public.agent_interactions_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
COMMENT ON TABLE public.agent_interactions IS
    'Append-only audit trail of AI agent tool calls, one partition per UTC day (by UUIDv7 id)';

CREATE TABLE public.agent_interactions_default PARTITION OF public.agent_interactions DEFAULT;
CREATE UNIQUE INDEX agent_interactions_default_chain_position
    ON public.agent_interactions_default (chain_key, chain_seq);

-- Retired chains' last rows (retention): where a chain continues after its older rows left.
CREATE TABLE public.agent_interactions_retired_tails (
    chain_key  text        PRIMARY KEY,
    chain_seq  bigint      NOT NULL CHECK (chain_seq >= 1),
    row_hash   text        NOT NULL,
    created_at timestamptz NOT NULL,
    owner      text,                   -- the conversation's customer, if one was named
    partition  text        NOT NULL    -- the retired partition that held this row
);
COMMENT ON TABLE public.agent_interactions_retired_tails IS
    'Last row of each chain whose older rows were retired (detached) from agent_interactions';

-- Attach one UTC day's partition (empty, so attaching scans nothing). Created standalone and
-- attached, because ATTACH PARTITION takes a lock on the parent that does not block writers,
-- where CREATE TABLE ... PARTITION OF takes one that does. Indexes and row triggers come from
-- the parent; the chain position index and the TRUNCATE trigger are each partition's own.
-- A day whose rows already sit in the default partition is left there (false): the rows stay
-- readable and verifiable, `ops partitions` reports them.
CREATE FUNCTION public.agent_interactions_add_partition(d date) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    part text := 'agent_interactions_p' || pg_catalog.to_char(d, 'YYYYMMDD');
    lo   uuid := public.agent_interactions_day_start(d);
    hi   uuid := public.agent_interactions_day_start(d + 1);
BEGIN
    IF pg_catalog.to_regclass('public.' || part) IS NOT NULL THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT FROM public.agent_interactions_default a WHERE a.id >= lo AND a.id < hi) THEN
        RAISE NOTICE 'rows of % are in agent_interactions_default: no partition made', d;
        RETURN false;
    END IF;
    EXECUTE pg_catalog.format(
        'CREATE TABLE public.%I (LIKE public.agent_interactions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
        part);
    EXECUTE pg_catalog.format('REVOKE ALL ON public.%I FROM PUBLIC', part);
    EXECUTE pg_catalog.format(
        'CREATE UNIQUE INDEX %I ON public.%I (chain_key, chain_seq)', part || '_chain_position', part);
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER agent_interactions_no_truncate BEFORE TRUNCATE ON public.%I'
        ' FOR EACH STATEMENT EXECUTE FUNCTION public.agent_interactions_append_only()', part);
    EXECUTE pg_catalog.format(
        'ALTER TABLE public.agent_interactions ATTACH PARTITION public.%I FOR VALUES FROM (%L) TO (%L)',
        part, lo, hi);
    RETURN true;
END
$$;

-- Today's partition and the next `days_ahead` days' (UTC); how many were made. SECURITY
-- DEFINER, so the functions' role (which runs the housekeeping schedule) may call it without
-- owning the table: it can make only these, in this shape. One caller at a time.
CREATE FUNCTION public.agent_interactions_ensure_partitions(days_ahead integer DEFAULT 7)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $$
DECLARE
    today date := (pg_catalog.clock_timestamp() AT TIME ZONE 'UTC')::date;
    made  integer := 0;
    d     date;
BEGIN
    IF days_ahead IS NULL OR days_ahead < 0 OR days_ahead > 62 THEN
        RAISE EXCEPTION 'days_ahead must be between 0 and 62, not %', days_ahead
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- 'AUDI', 'PART'
    PERFORM pg_catalog.pg_advisory_xact_lock(1096107081, 1346458196);
    FOR d IN SELECT g::date FROM pg_catalog.generate_series(today, today + days_ahead, '1 day') g
    LOOP
        IF public.agent_interactions_add_partition(d) THEN
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END
$$;
REVOKE ALL ON FUNCTION public.agent_interactions_ensure_partitions(integer) FROM PUBLIC;

-- Rows in the default partition, for housekeeping's report. Counted in the partition itself:
-- through the parent, a filter on tableoid prunes nothing and would scan the whole trail.
CREATE FUNCTION public.agent_interactions_rows_in_default() RETURNS bigint
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.count(*) FROM public.agent_interactions_default
$$;
REVOKE ALL ON FUNCTION public.agent_interactions_rows_in_default() FROM PUBLIC;
REVOKE ALL ON FUNCTION public.agent_interactions_add_partition(date) FROM PUBLIC;

-- A partition for every day the existing rows were written (by their UUIDv7), and the next days.
DO $$
DECLARE
    d date;
BEGIN
    FOR d IN
        SELECT DISTINCT (pg_catalog.to_timestamp(
                   ('x' || pg_catalog.lpad(pg_catalog.replace(pg_catalog.left(u.id::text, 13), '-', ''), 16, '0'))::bit(64)::bigint
                   / 1000.0) AT TIME ZONE 'UTC')::date
        FROM public.agent_interactions_unpartitioned u
        WHERE pg_catalog.substr(u.id::text, 15, 1) = '7'
    LOOP
        PERFORM public.agent_interactions_add_partition(d);
    END LOOP;
END
$$;
DO $$
BEGIN
    PERFORM public.agent_interactions_ensure_partitions(3);
END
$$;

-- Verbatim: no trigger is on the new table yet, so hashes, times and positions stay as written.
INSERT INTO public.agent_interactions SELECT * FROM public.agent_interactions_unpartitioned;

-- The functions typed by the old table's row go with it, and come back typed by the new one.
DROP FUNCTION public.agent_interactions_link(public.agent_interactions_unpartitioned);
DROP FUNCTION public.agent_interactions_canonical_v2(public.agent_interactions_unpartitioned);
DROP FUNCTION public.agent_interactions_canonical(public.agent_interactions_unpartitioned);
DROP TABLE public.agent_interactions_unpartitioned;
ALTER INDEX public.agent_interactions_pkey1 RENAME TO agent_interactions_pkey;

-- Version 1 (migration 0003's form), for the rows it hashed.
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

-- Version 2, as migration 0007 computes it.
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

-- Migration 0005's link, plus: a chain with no live row continues from its retired tail.
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
    IF last_seq IS NULL THEN
        SELECT t.chain_seq, t.row_hash, t.created_at, t.owner
        INTO last_seq, last_hash, last_at, last_cust
        FROM public.agent_interactions_retired_tails t
        WHERE t.chain_key = r.chain_key;
    END IF;

    -- The conversation's customer: the last row's if it names one (every row since the first
    -- that named one names the same), else the first live row that does, else the retired one.
    IF r.conversation_id IS NOT NULL AND r.customer_id IS NOT NULL AND last_seq IS NOT NULL THEN
        owner := last_cust;
        IF owner IS NULL THEN
            SELECT a.customer_id INTO owner
            FROM public.agent_interactions a
            WHERE a.chain_key = r.chain_key AND a.customer_id IS NOT NULL
            ORDER BY a.chain_seq
            LIMIT 1;
        END IF;
        IF owner IS NULL THEN
            SELECT t.owner INTO owner
            FROM public.agent_interactions_retired_tails t
            WHERE t.chain_key = r.chain_key;
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

-- The trigger fires on a partition, whose NEW is the partition's row type: assigning it to a
-- variable of the parent's type converts it (same columns, same order), so one link function
-- serves every partition.
CREATE OR REPLACE FUNCTION public.agent_interactions_chain() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '1s'
AS $$
DECLARE
    r public.agent_interactions;
BEGIN
    IF NEW.row_hash IS NOT NULL THEN
        IF public.agent_interactions_may_rewrite() THEN
            RETURN NEW;  -- the migration role restoring rows verbatim (a backup, a copy)
        END IF;
    END IF;
    IF NEW.intent_id IS NOT NULL
       AND NOT EXISTS (SELECT FROM public.agent_interactions a WHERE a.id = NEW.intent_id) THEN
        RAISE EXCEPTION 'intent_id % names no audit row', NEW.intent_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    r := NEW;
    NEW := public.agent_interactions_link(r);
    RETURN NEW;
END
$$;

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
CREATE TRIGGER agent_interactions_no_truncate
    BEFORE TRUNCATE ON public.agent_interactions_default
    FOR EACH STATEMENT EXECUTE FUNCTION public.agent_interactions_append_only();
CREATE TRIGGER agent_interactions_chain
    BEFORE INSERT ON public.agent_interactions
    FOR EACH ROW EXECUTE FUNCTION public.agent_interactions_chain();
CREATE TRIGGER agent_interactions_decision_evidence
    BEFORE INSERT ON public.agent_interactions
    FOR EACH ROW EXECUTE FUNCTION public.agent_interactions_decision_evidence();

REVOKE ALL ON public.agent_interactions, public.agent_interactions_default,
    public.agent_interactions_retired_tails FROM PUBLIC;
GRANT SELECT, INSERT ON public.agent_interactions TO insurance_agent_app;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON public.agent_interactions TO insurance_agent_migrator;
GRANT SELECT ON public.agent_interactions TO insurance_agent_sealer;
-- The chain trigger runs with the writer's rights and reads the tails.
GRANT SELECT ON public.agent_interactions_retired_tails TO insurance_agent_app, insurance_agent_sealer;
GRANT EXECUTE ON FUNCTION public.agent_interactions_ensure_partitions(integer) TO insurance_agent_app;
GRANT EXECUTE ON FUNCTION public.agent_interactions_rows_in_default() TO insurance_agent_app;
