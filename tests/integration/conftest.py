"""Handlers for integration tests: the real ones loaded from template.yaml, or ones with
their own container runtime when a test needs different settings (a dead upstream, say)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devstack.dev_identity import agent_identity
from devstack.jwt_authorizer import JwtAuthorizer
from devstack.lambda_runtime import load_handler
from devstack.local_api import LocalApi, in_background
from devstack.stack import ReferenceService
from devstack.template import functions, layer_dirs
from tests.conftest import TEST_AGENT_CLAIMS, Answer, call_http, session_identity

ROUTES = {
    "PolicyLookupFunction": "GET /policies/{policy_number}",
    "ClaimCreateFunction": "POST /claims",
    "ClaimSummaryFunction": "POST /agent/claim-summary",
}


@pytest.fixture(scope="session")
def handlers(function_env: dict[str, str]) -> Iterator[dict[str, Callable[[Any, Any], Any]]]:
    """Each function's handler, imported from its code dir with the layer on the path."""
    loaded = {
        spec.logical_id: load_handler(spec, extra_paths=layer_dirs())
        for spec in functions().values()
    }
    yield loaded
    for handler in loaded.values():
        entry = getattr(handler, "entry", None)  # the MCP interceptor holds no runtime
        if entry is not None:
            entry.runtime.close()


@pytest.fixture(scope="session")
def api_url(handlers: dict[str, Callable[[Any, Any], Any]]) -> Iterator[str]:
    """The local HTTP API (devstack/local_api.py) in front of the real handlers, over real HTTP
    on a free loopback port, verifying tokens of the session's identity provider."""
    with local_api_url(handlers, session_identity().authorizer()) as url:
        yield url


@pytest.fixture
def make_entry(function_env: dict[str, str]) -> Iterator[Callable[..., Any]]:
    """A fresh container (own pool, own client) for one operation, with settings overridden."""
    from insurance_agent.catalog import OPERATIONS
    from insurance_agent.entry import FunctionEntry
    from insurance_agent.runtime import ContainerRuntime
    from insurance_agent.settings import Settings

    made: list[FunctionEntry] = []

    def make(intent: str, **overrides: Any) -> FunctionEntry:
        entry = FunctionEntry(OPERATIONS[intent], ContainerRuntime(Settings(**overrides)))
        made.append(entry)
        return entry

    yield make
    for entry in made:
        entry.runtime.close()


@pytest.fixture
def dead_database() -> str:
    """A database URL on a loopback port nothing listens on."""
    from devstack.stack import free_port

    return f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"


@contextlib.contextmanager
def local_api_url(
    handlers: dict[str, Callable[[Any, Any], Any]], authorizer: JwtAuthorizer
) -> Iterator[str]:
    """The local HTTP API in front of ``handlers`` on a free loopback port."""
    from devstack.stack import free_port

    specs = functions()
    server = LocalApi([(specs[name], handlers[name]) for name in specs], authorizer=authorizer)
    with in_background(server.serve(port=free_port())) as url:
        yield url


def headers_for(
    conversation_id: str | None,
    customer_id: str | None = "cust-7788",
    *,
    idempotency_key: str | None = None,
    authorized: bool = True,
    **extra: str,
) -> dict[str, str]:
    """The request headers of an HTTP call: the one place that says what a caller sends
    (None leaves a header out). ``authorized`` sends a test agent's bearer token, which the
    local API verifies; the handlers read the caller from the event's JWT claims, not this."""
    headers = {"Content-Type": "application/json", **extra}
    if authorized:
        headers["Authorization"] = f"Bearer {session_identity().token(agent_identity())}"
    if conversation_id is not None:
        headers["X-Conversation-Id"] = conversation_id
    if customer_id is not None:
        headers["X-Customer-Id"] = customer_id
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return headers


def lookup(
    handler: Callable[[Any, Any], Any],
    policy_number: str,
    headers: dict[str, str],
    jwt_claims: dict[str, str] | None = TEST_AGENT_CLAIMS,
) -> Answer:
    return call_http(
        handler,
        "GET",
        f"/policies/{policy_number}",
        route_key=ROUTES["PolicyLookupFunction"],
        path_parameters={"policy_number": policy_number},
        headers=headers,
        function_name="PolicyLookupFunction",
        jwt_claims=jwt_claims,
    )


def post(
    handler: Callable[[Any, Any], Any],
    function: str,
    body: Any,
    headers: dict[str, str],
    jwt_claims: dict[str, str] | None = TEST_AGENT_CLAIMS,
) -> Answer:
    import json

    route = ROUTES[function]
    return call_http(
        handler,
        "POST",
        route.split(" ", 1)[1],
        route_key=route,
        headers=headers,
        body=body if isinstance(body, str | bytes) else json.dumps(body),
        function_name=function,
        jwt_claims=jwt_claims,
    )


def claim_body(**overrides: Any) -> dict[str, Any]:
    from datetime import UTC, datetime, timedelta

    body: dict[str, Any] = {
        "policy_number": "POL-10001",
        "loss_date": (datetime.now(UTC).date() - timedelta(days=2)).isoformat(),
        "loss_type": "collision",
        "description": "Backed into a bollard in a parking garage.",
        "amount_claimed": {"amount": "1800.00", "currency": "USD"},
    }
    body.update(overrides)
    return body


__all__ = ["ReferenceService", "claim_body", "headers_for", "lookup", "post"]
