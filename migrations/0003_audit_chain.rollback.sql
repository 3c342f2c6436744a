DROP TRIGGER agent_interactions_chain ON agent_interactions;
DROP FUNCTION agent_interactions_chain();
DROP FUNCTION agent_interactions_link(agent_interactions);
DROP FUNCTION agent_interactions_canonical(agent_interactions);
DROP FUNCTION agent_interactions_field(text);
DROP INDEX agent_interactions_chain_position;
ALTER TABLE agent_interactions
    DROP COLUMN chain_key, DROP COLUMN chain_seq, DROP COLUMN prev_hash, DROP COLUMN row_hash;
-- Back to refusing UPDATE and DELETE for everyone.
CREATE OR REPLACE FUNCTION agent_interactions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'agent_interactions is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
DROP FUNCTION agent_interactions_may_rewrite();
REVOKE ALL ON agent_interactions FROM insurance_agent_migrator;
-- The role itself and its members are cluster-wide: other databases may still use them.
