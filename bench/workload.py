"""The requests every part of the benchmark sends, and the stack they go to.

HTTP events carry the JWT claims and scopes API Gateway's authorizer puts in
``requestContext.authorizer.jwt``, so they stay acceptable when the handlers require them.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from devstack.events import http_api_event
from devstack.postgres import find_postgres, scratch_database
from devstack.stack import Stack, stack_on

FUNCTIONS = {
    "policy_lookup": "PolicyLookupFunction",
    "claim_create": "ClaimCreateFunction",
    "claim_summary": "ClaimSummaryFunction",
}
SCOPES = ["insurance/agent"]
# Claims are filed on POL-20001 so the summaries (POL-10001) read the same claim list throughout.
CALLERS = {
    "policy_lookup": ("cust-7788", "POL-10001"),
    "claim_create": ("cust-9001", "POL-20001"),
    "claim_summary": ("cust-7788", "POL-10001"),
}


def jwt_claims(customer_id: str) -> dict[str, Any]:
    return {"sub": "bench-agent", "scope": " ".join(SCOPES), "customer_id": customer_id}


def _with_scopes(event: dict[str, Any]) -> dict[str, Any]:
    event["requestContext"]["authorizer"]["jwt"]["scopes"] = list(SCOPES)
    return event


def http_event(intent: str, n: int = 0, run: str = "bench") -> dict[str, Any]:
    """API Gateway HTTP API (v2) event for ``intent``; claim creations get a fresh key each."""
    customer, policy = CALLERS[intent]
    headers = {
        "X-Conversation-Id": f"bench-{run}-{intent}-{n // 50}",
        "X-Customer-Id": customer,
        "Content-Type": "application/json",
    }
    claims = jwt_claims(customer)
    if intent == "policy_lookup":
        event = http_api_event(
            "GET",
            f"/policies/{policy}",
            route_key="GET /policies/{policy_number}",
            path_parameters={"policy_number": policy},
            headers=headers,
            jwt_claims=claims,
        )
    elif intent == "claim_summary":
        event = http_api_event(
            "POST",
            "/agent/claim-summary",
            route_key="POST /agent/claim-summary",
            headers=headers,
            body=json.dumps(summary_body()),
            jwt_claims=claims,
        )
    else:
        event = http_api_event(
            "POST",
            "/claims",
            route_key="POST /claims",
            headers=headers | {"Idempotency-Key": f"bench-{run}-{n}-{uuid.uuid4().hex[:8]}"},
            body=json.dumps(claim_body(n)),
            jwt_claims=claims,
        )
    return _with_scopes(event)


def direct_event(intent: str, n: int = 0, run: str = "bench") -> dict[str, Any]:
    """A direct invocation's task (what Step Functions sends)."""
    customer, policy = CALLERS[intent]
    caller = {"conversation_id": f"bench-{run}-{intent}-direct", "customer_id": customer}
    if intent == "policy_lookup":
        return caller | {"policy_number": policy}
    if intent == "claim_summary":
        return caller | summary_body()
    key = f"bench-{run}-d{n}-{uuid.uuid4().hex[:8]}"
    return caller | claim_body(n) | {"idempotency_key": key}


def hello_event() -> dict[str, Any]:
    return _with_scopes(
        http_api_event("GET", "/hello", headers={}, jwt_claims=jwt_claims("cust-7788"))
    )


def summary_body() -> dict[str, Any]:
    return {"policy_number": "POL-10001", "claim_id": "CLM-000102"}


def claim_body(n: int) -> dict[str, Any]:
    return {
        "policy_number": CALLERS["claim_create"][1],
        "loss_date": (datetime.now(UTC).date() - timedelta(days=2)).isoformat(),
        "loss_type": "theft",
        "description": f"Bench claim {n}: bicycle taken from the garage.",
        "amount_claimed": {"amount": "640.00", "currency": "USD"},
    }


def function_env(stack: Stack) -> dict[str, str]:
    """What the functions read locally, pointed at ``stack``; Powertools settings stay the
    template's (metrics on, tracing off) rather than the test stack's."""
    return {k: v for k, v in stack.function_env().items() if not k.startswith("POWERTOOLS")}


@contextlib.contextmanager
def bench_stack() -> Iterator[Stack]:
    """A scratch database (migrated) on the discovered server, the reference service on it."""
    found = find_postgres()
    name = f"ia_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with scratch_database(found.url, name) as url, stack_on(found, url, reset=True) as stack:
            yield stack
    finally:
        found.stop()
