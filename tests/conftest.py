"""Session fixtures: a real PostgreSQL (discovered like `make run` does), a scratch database
migrated for this run, and the reference insurance service on a loopback port."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from devstack import migrate
from devstack.dev_identity import DevIdentityProvider, agent_identity
from devstack.events import LambdaContext, http_api_event, response_body
from devstack.jwt_authorizer import gateway_claims
from devstack.postgres import FoundPostgres, find_postgres, scratch_database
from devstack.stack import ReferenceService, start_reference_service

# Keeps every test's captured output for the leak scan (tests/trust/test_redaction_scan.py).
pytest_plugins = ("tests.trust.suite_logs",)


# The key the session's interceptor and tool functions share (MCP caller assertions).
MCP_CALLER_KEY = uuid.uuid4().hex + uuid.uuid4().hex


@pytest.fixture(scope="session")
def pg_server() -> Iterator[FoundPostgres]:
    found = find_postgres()
    yield found
    found.stop()


@pytest.fixture(scope="session")
def database_url(pg_server: FoundPostgres) -> Iterator[str]:
    name = f"ia_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with scratch_database(pg_server.url, name) as url:
        migrate.apply(url)
        yield url


@pytest.fixture(scope="session")
def reference(database_url: str) -> Iterator[ReferenceService]:
    service = start_reference_service(database_url, reset=True)
    yield service
    service.stop()


@pytest.fixture(scope="session")
def function_env(database_url: str, reference: ReferenceService) -> Iterator[dict[str, str]]:
    """The environment the functions read, set for the whole session like Lambda's."""
    env = {
        "DATABASE_URL": database_url,
        "FASTAPI_INSURANCE_BASE_URL": reference.url,
        "FASTAPI_INSURANCE_API_KEY": reference.api_key,
        "MCP_CALLER_KEY": MCP_CALLER_KEY,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "insurance-agent-api-test",
        "DB_POOL_TIMEOUT_S": "1.5",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from insurance_agent.settings import get_settings

    get_settings.cache_clear()
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    get_settings.cache_clear()


@pytest.fixture
def fresh_reference(reference: ReferenceService) -> Iterator[ReferenceService]:
    """Seeded data, no faults, connection stats zeroed: each test starts from the same world."""
    with reference.admin() as admin:
        admin.delete("/_admin/faults").raise_for_status()
        admin.post("/_admin/reset").raise_for_status()
        admin.post("/_admin/stats/reset").raise_for_status()
    yield reference
    with reference.admin() as admin:
        admin.delete("/_admin/faults")


@pytest.fixture
def reference_without_dedup(fresh_reference: ReferenceService) -> ReferenceService:
    """The reference service filing every POST /v1/claims, even under a key it has seen: a
    test that expects one claim then proves our idempotency layer, not upstream's, kept it to
    one. (``/_admin/reset`` turns deduplication back on for the next test.)"""
    with fresh_reference.admin() as admin:
        admin.post("/_admin/dedup", json={"enabled": False}).raise_for_status()
    return fresh_reference


@functools.cache
def session_identity() -> DevIdentityProvider:
    """The session's identity provider: its key signs the tokens the local API verifies."""
    return DevIdentityProvider.generate()


@pytest.fixture(scope="session")
def dev_identity() -> DevIdentityProvider:
    return session_identity()


@pytest.fixture
def conversation_id() -> str:
    return f"conv-{uuid.uuid4().hex[:12]}"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


# What the gateway's JWT authorizer passes for an agent's token: the principal of every HTTP
# event a test sends unless it names another (jwt_claims=None: a route without the authorizer).
TEST_AGENT_CLAIMS = gateway_claims(agent_identity("test-agent"))


def call_http(
    handler: Callable[[Any, Any], Any],
    method: str,
    path: str,
    *,
    route_key: str,
    path_parameters: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | str | None = None,
    function_name: str = "test-function",
    jwt_claims: dict[str, str] | None = TEST_AGENT_CLAIMS,
) -> Answer:
    import json

    event = http_api_event(
        method,
        path,
        route_key=route_key,
        path_parameters=path_parameters,
        headers=headers,
        body=body,
        jwt_claims=jwt_claims,
    )
    response = handler(event, LambdaContext(function_name=function_name))
    raw = response_body(response)
    return Answer(
        status=response["statusCode"],
        headers={k.lower(): v for k, v in (response.get("headers") or {}).items()},
        body=json.loads(raw) if raw else None,
    )


@pytest.fixture
def audit_rows(database_url: str) -> Callable[..., list[dict[str, Any]]]:
    def rows(conversation_id: str | None = None, **where: Any) -> list[dict[str, Any]]:
        clauses, params = [], []
        if conversation_id is not None:
            clauses.append("conversation_id = %s")
            params.append(conversation_id)
        for column, value in where.items():
            clauses.append(f"{column} = %s")
            params.append(value)
        sql = "SELECT * FROM agent_interactions"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        with psycopg.connect(database_url, row_factory=dict_row) as conn:
            return conn.execute(sql + " ORDER BY created_at, id", params).fetchall()

    return rows


def upstream_claim_count(reference: ReferenceService) -> int:
    with reference.admin() as admin:
        return int(admin.get("/_admin/claims/count").json()["claims"])
