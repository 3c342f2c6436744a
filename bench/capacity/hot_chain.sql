-- The same row, every writer in ONE conversation: the hot-chain case (one advisory lock).
-- Each insert waits for the previous writer of the chain to commit.
\set conv 1
INSERT INTO agent_interactions (id, created_at, conversation_id, customer_id, intent, outcome,
    payload, result, request_id, function_name, channel, principal, duration_ms)
SELECT (pg_catalog.substr(s.h, 1, 8) || '-' || pg_catalog.substr(s.h, 9, 4) || '-7' || pg_catalog.substr(s.r, 1, 3)
        || '-8' || pg_catalog.substr(s.r, 4, 3) || '-' || pg_catalog.substr(s.r, 7, 12))::uuid,
    clock_timestamp(), 'conv-' || :conv, 'cust-7788', 'policy_lookup', 'ok',
    '{"policy_number": "POL-10001"}',
    '{"policy_number": "POL-10001", "customer_id": "cust-7788", "status": "active", "product": "auto", "currency": "USD", "effective_date": "2026-01-01", "expiry_date": "2027-01-01", "premium": {"amount": "1200.00", "currency": "USD"}, "coverages": [{"peril": "collision", "limit": {"amount": "25000.00", "currency": "USD"}, "deductible": {"amount": "500.00", "currency": "USD"}}, {"peril": "theft", "limit": {"amount": "20000.00", "currency": "USD"}, "deductible": {"amount": "250.00", "currency": "USD"}}]}',
    'req-' || :conv, 'PolicyLookupFunction', 'http', 'agent:test-agent', 12.345
FROM (SELECT pg_catalog.lpad(pg_catalog.to_hex((EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint), 12, '0') AS h,
             pg_catalog.md5(pg_catalog.random()::text) AS r) s;
