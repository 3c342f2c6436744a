"""ClaimCreateFunction: POST /claims with an Idempotency-Key header, or a direct task with
the claim's fields plus conversation_id, customer_id and idempotency_key."""

from insurance_agent.cold_start import init_phase

with init_phase():
    from insurance_agent.catalog import CLAIM_CREATE
    from insurance_agent.entry import lambda_handler

handler = lambda_handler(CLAIM_CREATE)
