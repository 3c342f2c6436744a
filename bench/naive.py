"""The naive claim summary the benchmark compares ours with: same requests, same answer.

What a first version often does: a new ``httpx.Client`` and a new database connection for
every request, and the audit row written ORM-style (INSERT ... RETURNING the id, then SELECT
the row back, the "refresh"), committed, connection closed. The domain (models, summary) is
the layer's, so the difference is the connection handling alone.
"""

from __future__ import annotations

import json
import time
from typing import Any
from uuid import UUID

import httpx
import psycopg
from psycopg.types.json import Jsonb
from uuid6 import uuid7

from devstack.stack import Stack

INSERT = """
INSERT INTO agent_interactions (id, created_at, conversation_id, customer_id, intent, outcome,
    payload, result, request_id, function_name, channel, principal, duration_ms)
VALUES (%s, now(), %s, %s, 'claim_summary', 'ok', %s, %s, %s, 'naive', 'http', %s, %s)
RETURNING id
"""


def naive_claim_summary(stack: Stack, event: dict[str, Any]) -> dict[str, Any]:
    from insurance_agent.domain.summary import summarize
    from insurance_agent.models import Claim, ClaimSummaryRequest, Policy, utc_now

    started = time.perf_counter()
    headers = event["headers"]
    request = ClaimSummaryRequest.model_validate_json(event["body"])
    with httpx.Client(
        base_url=stack.reference.url,
        headers={"Authorization": f"Bearer {stack.reference.api_key}"},
        timeout=5,
    ) as client:
        policy_response = client.get(f"/v1/policies/{request.policy_number}")
        policy_response.raise_for_status()
        policy = Policy.model_validate(policy_response.json())
        claims_response = client.get(f"/v1/policies/{request.policy_number}/claims")
        claims_response.raise_for_status()
        claims = [Claim.model_validate(c) for c in claims_response.json()]
    if policy.customer_id != headers["x-customer-id"]:
        return {"statusCode": 404, "body": json.dumps({"error": "not found"})}
    summary = summarize(policy, claims, claim_id=request.claim_id, as_of=utc_now())
    answer = summary.model_dump(mode="json")
    with psycopg.connect(stack.database_url) as conn:
        row = conn.execute(
            INSERT,
            (
                UUID(bytes=uuid7().bytes),  # as the functions: its day picks the partition
                headers["x-conversation-id"],
                headers["x-customer-id"],
                Jsonb(request.model_dump(mode="json")),
                Jsonb(answer),
                event["requestContext"]["requestId"],
                "bench-agent",
                (time.perf_counter() - started) * 1000,
            ),
        ).fetchone()
        assert row is not None
        conn.execute("SELECT * FROM agent_interactions WHERE id = %s", (row[0],)).fetchone()
        conn.commit()
    return {"statusCode": 200, "body": json.dumps(answer)}


def measure(stack: Stack, requests: int) -> dict[str, Any]:
    """``requests`` naive claim summaries one after the other: statuses, p50 and p99."""
    from bench.stats import pct
    from bench.workload import http_event

    times: list[float] = []
    statuses: dict[int, int] = {}
    for n in range(requests):
        event = http_event("claim_summary", n, "naive")
        t = time.perf_counter()
        status = naive_claim_summary(stack, event)["statusCode"]
        times.append((time.perf_counter() - t) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "requests": requests,
        "statuses": statuses,
        "p50_ms": pct(times, 50),
        "p99_ms": pct(times, 99),
    }
