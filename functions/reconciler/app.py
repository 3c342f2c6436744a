"""ClaimReconcilerFunction (each minute): give every claim intent left pending its result row,
learnt from upstream by the idempotency key the filing sent."""

from insurance_agent.cold_start import init_phase

with init_phase():
    from insurance_agent.scheduled import reconcile_handler

handler = reconcile_handler
