"""IdempotencyPurgeFunction (hourly): delete idempotency records past their TTL."""

from insurance_agent.cold_start import init_phase

with init_phase():
    from insurance_agent.scheduled import purge_handler

handler = purge_handler
