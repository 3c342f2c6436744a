-- depends: 0010_mcp_channel
-- Two more intents: a coverage question answered without filing ("am I covered?"), and a
-- triage decision recorded on a claim. A decision is an audit row like any other (append-only,
-- in the same hash chain); the audit rows it cites (payload.relied_on) must be rows of the
-- same customer, checked here as well as by the function, so no writer can record a decision
-- resting on evidence that does not exist or is another customer's.
ALTER TABLE agent_interactions DROP CONSTRAINT agent_interactions_intent_check;
ALTER TABLE agent_interactions ADD CONSTRAINT agent_interactions_intent_check
    CHECK (intent IN ('policy_lookup', 'claim_create', 'claim_summary',
                      'coverage_check', 'triage_decision'));

CREATE FUNCTION agent_interactions_decision_evidence() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    cited jsonb := NEW.payload -> 'relied_on';
    missing text;
BEGIN
    IF NEW.intent <> 'triage_decision' OR NEW.outcome <> 'ok' THEN
        RETURN NEW;
    END IF;
    IF jsonb_typeof(cited) IS DISTINCT FROM 'array' OR jsonb_array_length(cited) = 0 THEN
        RAISE EXCEPTION 'a triage decision cites no audit rows'
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT string_agg(c.value, ', ') INTO missing
    FROM jsonb_array_elements_text(cited) AS c(value)
    WHERE NOT EXISTS (
        SELECT FROM agent_interactions a
        WHERE a.id = CASE
                WHEN c.value ~ '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' THEN c.value::uuid
            END
          AND a.customer_id = NEW.customer_id
    );
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'a triage decision cites audit rows that are not its customer''s: %', missing
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER agent_interactions_decision_evidence
    BEFORE INSERT ON agent_interactions
    FOR EACH ROW EXECUTE FUNCTION agent_interactions_decision_evidence();

-- "Every decision on a claim" (ops decisions --claim) reads the decisions by claim id.
CREATE INDEX agent_interactions_decision_claim ON agent_interactions ((payload ->> 'claim_id'))
    WHERE intent = 'triage_decision';
