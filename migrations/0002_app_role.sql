-- depends: 0001_agent_interactions
-- The functions' database role may insert and read the audit trail, never change it.
-- In AWS a login user (IAM auth) is granted this role; see README "Deploy".
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'insurance_agent_app') THEN
        CREATE ROLE insurance_agent_app NOLOGIN;
    END IF;
END
$$;
REVOKE ALL ON agent_interactions FROM PUBLIC;
GRANT SELECT, INSERT ON agent_interactions TO insurance_agent_app;

-- Refuse UPDATE and DELETE for everyone, the table owner included; TRUNCATE too.
CREATE FUNCTION agent_interactions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'agent_interactions is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER agent_interactions_no_update_delete
    BEFORE UPDATE OR DELETE ON agent_interactions
    FOR EACH ROW EXECUTE FUNCTION agent_interactions_append_only();
CREATE TRIGGER agent_interactions_no_truncate
    BEFORE TRUNCATE ON agent_interactions
    FOR EACH STATEMENT EXECUTE FUNCTION agent_interactions_append_only();
