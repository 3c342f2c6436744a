"""The upstream contract, published: schemas/upstream.openapi.json is the reference service's
OpenAPI document, current, and covers every call the functions' client makes."""

from __future__ import annotations

import json
import re

import httpx

from devstack.stack import ROOT
from reference_service.schema import SCHEMA, render, upstream_openapi


def test_the_committed_document_is_the_reference_services_own():
    assert SCHEMA.read_text() == render(upstream_openapi()), "run `make upstream-schema`"


def test_it_covers_every_call_the_client_makes():
    client = (ROOT / "layers/common/insurance_agent/upstream.py").read_text()
    calls = set(re.findall(r'self\._send\(\s*"(GET|POST)",\s*f?"([^"]+)"', client))
    assert calls, "no calls found in upstream.py"
    paths = json.loads(SCHEMA.read_text())["paths"]
    for method, path in calls:
        template = re.sub(r"\{[^}]+\}", "{}", path)
        documented = {re.sub(r"\{[^}]+\}", "{}", p): ops for p, ops in paths.items()}
        assert template in documented, path
        assert method.lower() in documented[template], (method, path)


def test_the_documented_answers_are_what_the_service_serves(fresh_reference):
    """Every field the document requires (what the client reads) is in the service's answers;
    the service may send more (a claim's loss_location), which the client ignores."""
    doc = json.loads(SCHEMA.read_text())
    policy_schema = doc["components"]["schemas"]["Policy"]
    with httpx.Client(
        base_url=fresh_reference.url,
        headers={"Authorization": f"Bearer {fresh_reference.api_key}"},
        timeout=10,
    ) as client:
        policy = client.get("/v1/policies/POL-10001").json()
        claims = client.get("/v1/policies/POL-10001/claims").json()
    assert set(policy_schema["required"]) <= set(policy)
    claim_required = set(doc["components"]["schemas"]["Claim"]["required"])
    assert claims
    for claim in claims:
        assert claim_required <= set(claim), claim_required - set(claim)
