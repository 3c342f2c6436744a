"""ClaimSummaryFunction: POST /agent/claim-summary, or a direct task {conversation_id,
customer_id, policy_number, claim_id?}."""

from insurance_agent.cold_start import init_phase

with init_phase():
    from insurance_agent.catalog import CLAIM_SUMMARY
    from insurance_agent.entry import lambda_handler

handler = lambda_handler(CLAIM_SUMMARY)
