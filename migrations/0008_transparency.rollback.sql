REVOKE SELECT ON agent_interactions FROM insurance_agent_sealer;
DROP INDEX agent_interactions_created;
DROP TABLE transparency_checkpoints;
DROP TABLE transparency_leaves;
DROP FUNCTION transparency_append_only();
-- The role is cluster-wide: other databases may still use it.
