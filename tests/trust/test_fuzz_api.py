"""Every endpoint fuzzed with schemathesis from the functions' own OpenAPI, over real HTTP.

The schema is what the FastAPI apps generate (``devstack.action_group_schema.http_openapi``),
the requests go through the local HTTP API (API Gateway v2 events to the real handlers) to real
Postgres and the reference service. With a healthy upstream and database, no answer may be a
5xx, every status must be one the schema documents, and every 4xx body must be the error format.

    .venv/bin/pytest tests/trust/test_fuzz_api.py -q
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from insurance_agent.models import ErrorBody
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from devstack.action_group_schema import http_openapi
from tests.integration.conftest import headers_for

# Enough to reach every validation branch, bounded so the module stays well under a minute.
MAX_EXAMPLES = 60
GATEWAY_NOT_FOUND = {"message": "Not Found"}


def api_openapi() -> dict[str, Any]:
    """One document for the three functions: their paths are disjoint, their components agree."""
    merged: dict[str, Any] = {}
    for intent in ("policy_lookup", "claim_create", "claim_summary"):
        doc = http_openapi(intent)
        if not merged:
            merged = {**doc, "paths": {}, "components": {"schemas": {}}}
        merged["paths"].update(doc["paths"])
        for name, component in doc.get("components", {}).get("schemas", {}).items():
            known = merged["components"]["schemas"].setdefault(name, component)
            assert known == component, f"component {name} differs between apps"
    merged["info"] = {"title": "Insurance API for AI agents", "version": "1.0.0"}
    return merged


schema = schemathesis.openapi.from_dict(api_openapi())

# Seeded values, offered next to the generated ones so schema-valid cases also reach the rules
# behind an existing policy (cust-7788 holds POL-1000x; POL-20001 is another customer's).
_RECENT = (datetime.now(UTC).date() - timedelta(days=3)).isoformat()
SEEDED: dict[str, tuple[re.Pattern[str], list[str]]] = {
    "policy_number": (re.compile(r"POL-[0-9]{5,10}"), ["POL-10001", "POL-10003", "POL-20001"]),
    "claim_id": (re.compile(r"CLM-[0-9A-Z]{6,26}"), ["CLM-000101", "CLM-000201"]),
    "loss_type": (re.compile(r"[a-z][a-z_]{1,39}"), ["collision", "fire"]),
    "loss_date": (re.compile(r"\d{4}-\d{2}-\d{2}"), [_RECENT]),
    "currency": (re.compile(r"[A-Z]{3}"), ["USD"]),
}


def _seeded(values: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``values`` with each well-formed seeded field possibly swapped for a seeded value: a
    valid value stays valid, so schema-breaking cases still break the schema."""
    choices: dict[str, st.SearchStrategy[Any]] = {}
    for name, value in values.items():
        if name == "amount_claimed" and isinstance(value, dict):
            choices[name] = _seeded(value)
        elif name in SEEDED and isinstance(value, str) and SEEDED[name][0].fullmatch(value):
            choices[name] = st.sampled_from([value, *SEEDED[name][1]])
    return st.fixed_dictionaries(choices).map(lambda chosen: {**values, **chosen})


@schema.hook
def flatmap_body(ctx: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    return _seeded(body) if isinstance(body, dict) else st.just(body)


@schema.hook
def flatmap_path_parameters(ctx: schemathesis.HookContext, params: Any) -> st.SearchStrategy[Any]:
    return _seeded(params) if isinstance(params, dict) else st.just(params)


def error_body_format(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Every 4xx answer a function gives is {"error": {code, message, request_id, details}}."""
    if not 400 <= response.status_code < 500:
        return
    body = response.json()
    if case.method.upper() != case.operation.method.upper():
        # A method no route serves never reaches a function: the gateway answers it.
        assert (response.status_code, body) == (404, GATEWAY_NOT_FOUND)
        return
    error = ErrorBody.model_validate(body).error  # exactly {"error": {code, message, ...}}
    assert error.code.isupper(), error.code
    assert error.message
    assert error.request_id == response.headers["x-request-id"][0]


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
    error_body_format,
]


def caller_headers(case: schemathesis.Case) -> dict[str, str]:
    """A known caller for a schema-valid case, so it reaches the operation; a schema-breaking
    case keeps the headers schemathesis made (missing or malformed ids are the point)."""
    if case.meta is not None and case.meta.generation.mode == GenerationMode.NEGATIVE:
        return headers_for(None, None)
    return headers_for(
        f"fuzz-{uuid.uuid4().hex[:12]}", "cust-7788", idempotency_key=f"fuzz-{uuid.uuid4().hex}"
    )


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_documented_and_no_server_error(case, api_url, fresh_reference):
    case.call_and_validate(base_url=api_url, headers=caller_headers(case), checks=CHECKS)
