DROP TRIGGER agent_interactions_no_truncate ON agent_interactions;
DROP TRIGGER agent_interactions_no_update_delete ON agent_interactions;
DROP FUNCTION agent_interactions_append_only();
REVOKE SELECT, INSERT ON agent_interactions FROM insurance_agent_app;
