-- depends: 0006_customer_keys
-- The transparency log over the audit trail (insurance_agent/transparency, docs/transparency.md).
-- Leaves: every agent_interactions row, in the order the sealer appended it (leaf_index), by
-- its row_hash. No foreign key to agent_interactions on purpose: the tree is the evidence and
-- must outlive a row that was deleted, or a partition that was detached for retention.
CREATE TABLE transparency_leaves (
    leaf_index bigint PRIMARY KEY CHECK (leaf_index >= 0),
    row_id     uuid   NOT NULL UNIQUE,
    leaf_hash  bytea  NOT NULL CHECK (octet_length(leaf_hash) = 32)  -- SHA-256(0x00 || row_hash)
);

-- One row per signed checkpoint; tree_size as primary key: never two roots for one size here.
CREATE TABLE transparency_checkpoints (
    tree_size      bigint      PRIMARY KEY CHECK (tree_size >= 0),
    root_hash      bytea       NOT NULL CHECK (octet_length(root_hash) = 32),
    note           text        NOT NULL,  -- the C2SP signed note, verbatim
    frontier       bytea[]     NOT NULL,  -- roots of the tree's perfect subtrees, largest first
    sealed_through timestamptz,           -- newest created_at among the leaves (sealer window)
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION transparency_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER transparency_leaves_append_only
    BEFORE UPDATE OR DELETE ON transparency_leaves
    FOR EACH ROW EXECUTE FUNCTION transparency_append_only();
CREATE TRIGGER transparency_leaves_no_truncate
    BEFORE TRUNCATE ON transparency_leaves
    FOR EACH STATEMENT EXECUTE FUNCTION transparency_append_only();
CREATE TRIGGER transparency_checkpoints_append_only
    BEFORE UPDATE OR DELETE ON transparency_checkpoints
    FOR EACH ROW EXECUTE FUNCTION transparency_append_only();
CREATE TRIGGER transparency_checkpoints_no_truncate
    BEFORE TRUNCATE ON transparency_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION transparency_append_only();

-- The sealer's window scan (rows newer than the last sealed, minus the lookback).
CREATE INDEX agent_interactions_created ON agent_interactions (created_at, id);

-- The sealer's role: reads the trail, appends to the log. The functions' role reads the log
-- (ops prove may run as it) but cannot append to it.
DO $$
BEGIN
    CREATE ROLE insurance_agent_sealer NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- roles are cluster-wide: another database of this cluster made it first
END
$$;
REVOKE ALL ON transparency_leaves, transparency_checkpoints FROM PUBLIC;
GRANT SELECT ON agent_interactions TO insurance_agent_sealer;
GRANT SELECT, INSERT ON transparency_leaves, transparency_checkpoints TO insurance_agent_sealer;
GRANT SELECT ON transparency_leaves, transparency_checkpoints TO insurance_agent_app;
