"""The local HTTP API: real HTTP in, an API Gateway v2 event to the real handler, real HTTP out."""

from __future__ import annotations

import httpx
import pytest

from devstack.dev_identity import agent_identity, customer_identity
from devstack.local_api import compile_path


@pytest.fixture(scope="module")
def customer_token(dev_identity) -> str:
    return dev_identity.token(customer_identity("cust-7788"))


def test_lookup_over_http_then_read_the_conversation_trail(
    api_url, customer_token, fresh_reference, audit_rows, conversation_id
):
    response = httpx.get(
        f"{api_url}/policies/POL-10001",
        headers={
            "Authorization": f"Bearer {customer_token}",
            "X-Conversation-Id": conversation_id,
        },
    )

    assert response.status_code == 200
    assert response.json()["status"] == "active"
    (row,) = audit_rows(conversation_id)
    assert row["request_id"] == response.headers["x-request-id"]
    assert (row["intent"], row["result"]["status"]) == ("policy_lookup", "active")
    assert (row["principal"], row["customer_id"]) == ("customer:dev-user-cust-7788", "cust-7788")


def test_claim_and_summary_over_http(api_url, dev_identity, fresh_reference, conversation_id):
    headers = {
        "Authorization": f"Bearer {dev_identity.token(agent_identity('claims-desk'))}",
        "X-Conversation-Id": conversation_id,
        "X-Customer-Id": "cust-7788",
    }
    from tests.integration.conftest import claim_body

    created = httpx.post(
        f"{api_url}/claims",
        json=claim_body(),
        headers=headers | {"Idempotency-Key": f"http-{conversation_id}"},
    )
    summary = httpx.post(
        f"{api_url}/agent/claim-summary",
        json={"policy_number": "POL-10001", "claim_id": created.json()["claim_id"]},
        headers=headers,
    )

    assert created.status_code == 201
    assert summary.status_code == 200
    assert summary.json()["claim"]["estimated_payable"] == "1300.00"  # 1,800 - 500


def test_unknown_route_is_answered_by_the_gateway(api_url):
    response = httpx.get(f"{api_url}/nowhere")

    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_path_templates_match_one_segment():
    pattern = compile_path("/policies/{policy_number}")

    assert pattern.fullmatch("/policies/POL-10001").groupdict() == {"policy_number": "POL-10001"}
    assert pattern.fullmatch("/policies/a/b") is None
