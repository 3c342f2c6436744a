DROP INDEX agent_interactions_decision_claim;
DROP TRIGGER agent_interactions_decision_evidence ON agent_interactions;
DROP FUNCTION agent_interactions_decision_evidence();
ALTER TABLE agent_interactions DROP CONSTRAINT agent_interactions_intent_check;
ALTER TABLE agent_interactions ADD CONSTRAINT agent_interactions_intent_check
    CHECK (intent IN ('policy_lookup', 'claim_create', 'claim_summary'));
