-- One audit row as the functions write it (a policy lookup's size), into one of many
-- conversations: the chain trigger, the indexes and the commit are what is measured.
\set conv random(1, 10000000)
INSERT INTO agent_interactions (id, created_at, conversation_id, customer_id, intent, outcome,
    payload, result, request_id, function_name, channel, principal, duration_ms)
VALUES (gen_random_uuid(), clock_timestamp(), 'conv-' || :conv, 'cust-7788', 'policy_lookup', 'ok',
    '{"policy_number": "POL-10001"}',
    '{"policy_number": "POL-10001", "customer_id": "cust-7788", "status": "active", "product": "auto", "currency": "USD", "effective_date": "2026-01-01", "expiry_date": "2027-01-01", "premium": {"amount": "1200.00", "currency": "USD"}, "coverages": [{"peril": "collision", "limit": {"amount": "25000.00", "currency": "USD"}, "deductible": {"amount": "500.00", "currency": "USD"}}, {"peril": "theft", "limit": {"amount": "20000.00", "currency": "USD"}, "deductible": {"amount": "250.00", "currency": "USD"}}]}',
    'req-' || :conv, 'PolicyLookupFunction', 'http', 'agent:test-agent', 12.345);
