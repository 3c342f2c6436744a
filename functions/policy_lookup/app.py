"""PolicyLookupFunction: GET /policies/{policy_number}, or a direct task {conversation_id,
customer_id, policy_number}. The logic lives in the shared layer (insurance_agent)."""

from insurance_agent.cold_start import init_phase

with init_phase():
    from insurance_agent.catalog import POLICY_LOOKUP
    from insurance_agent.entry import lambda_handler

handler = lambda_handler(POLICY_LOOKUP)
