"""An MCP client (the `mcp` SDK) over streamable HTTP to the local gateway, through the real
interceptor and functions: every tool listed, each called, and each answer and audit row the
same as the HTTP door gives for the same request (channel ``mcp`` instead of ``http``)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import mcp_types
import pytest

from devstack.dev_identity import agent_identity, customer_identity
from devstack.mcp_tool_schema import TOOLS, committed_tools, gateway_listing
from tests.conftest import session_identity
from tests.integration.conftest import claim_body
from tests.mcp.conftest import run_mcp

# What must be the same whichever door a request came through (the rest is per request: ids,
# times, the channel, the conversation, the chain the row joins).
SAME_BY_DOOR = ("intent", "outcome", "result", "principal", "customer_id", "error_code")


def token(identity: dict[str, Any]) -> str:
    return session_identity().token(identity)


def call(url: str, bearer: str, tool: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
    result: mcp_types.CallToolResult = run_mcp(url, bearer, lambda c: c.call_tool(tool, arguments))
    return result


def comparable(row: dict[str, Any]) -> dict[str, Any]:
    return {column: row[column] for column in SAME_BY_DOOR}


def test_every_tool_is_listed_as_generated(gateway_url):
    bearer = token(agent_identity("lister"))

    listed = run_mcp(gateway_url, bearer, lambda c: c.list_tools())

    targets = sorted({tool.target for tool in TOOLS.values()})
    expected = [
        mcp_types.Tool.model_validate(tool)
        for target in targets
        for tool in gateway_listing(target, committed_tools(target))
    ]
    assert sorted(t.name for t in listed.tools) == [
        "claim-create___file_claim",
        "claim-create___record_triage_decision",
        "claim-summary___check_coverage",
        "claim-summary___get_claim_summary",
        "policy-lookup___lookup_policy",
    ]
    assert sorted(listed.tools, key=lambda t: t.name) == sorted(expected, key=lambda t: t.name)


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_lookup_policy_answers_and_audits_as_http_does(
    gateway_url, api_url, fresh_reference, audit_rows, conversation_id, mode
):
    bearer = token(customer_identity("cust-7788"))
    arguments = {"conversation_id": conversation_id, "policy_number": "POL-10001"}

    result = run_mcp(
        gateway_url,
        bearer,
        lambda c: c.call_tool("policy-lookup___lookup_policy", arguments),
        mode=mode,
    )
    http = httpx.get(
        f"{api_url}/policies/POL-10001",
        headers={"Authorization": f"Bearer {bearer}", "X-Conversation-Id": f"{conversation_id}-h"},
    )

    assert http.status_code == 200
    assert result.is_error is False
    # The same answer, each naming its own audit row (audit_id).
    answer, http_answer = dict(result.structured_content or {}), http.json()
    assert answer.pop("audit_id") != http_answer.pop("audit_id")
    assert answer == http_answer
    assert json.loads(result.content[0].text) == result.structured_content
    (row,) = audit_rows(conversation_id)
    (http_row,) = audit_rows(f"{conversation_id}-h")
    assert (row["channel"], http_row["channel"]) == ("mcp", "http")
    assert comparable(row) == comparable(http_row)
    assert row["payload"]["gateway"]["tool"] == "policy-lookup___lookup_policy"


def test_file_claim_answers_and_audits_as_http_does(
    gateway_url, api_url, fresh_reference, audit_rows, conversation_id
):
    bearer = token(agent_identity("claims-desk"))
    arguments = claim_body() | {
        "conversation_id": conversation_id,
        "customer_id": "cust-7788",
        "idempotency_key": f"mcp-{conversation_id}",
    }

    result = call(gateway_url, bearer, "claim-create___file_claim", arguments)
    http = httpx.post(
        f"{api_url}/claims",
        json=claim_body(),
        headers={
            "Authorization": f"Bearer {bearer}",
            "X-Conversation-Id": f"{conversation_id}-h",
            "X-Customer-Id": "cust-7788",
            "Idempotency-Key": f"http-{conversation_id}",
        },
    )

    assert http.status_code == 201
    assert result.is_error is False, result.content
    assert result.structured_content is not None
    claim, http_claim = dict(result.structured_content), http.json()
    assert claim["claim_id"] != http_claim["claim_id"]  # two claims filed, one per door
    for different in ("claim_id", "created_at", "audit_id"):
        claim.pop(different)
        http_claim.pop(different)
    assert claim == http_claim
    rows, http_rows = audit_rows(conversation_id), audit_rows(f"{conversation_id}-h")
    assert [(r["channel"], r["outcome"]) for r in rows] == [("mcp", "pending"), ("mcp", "ok")]
    assert [(r["channel"], r["outcome"]) for r in http_rows] == [
        ("http", "pending"),
        ("http", "ok"),
    ]
    for row, http_row in zip(rows, http_rows, strict=True):
        assert (row["intent"], row["principal"], row["customer_id"]) == (
            http_row["intent"],
            http_row["principal"],
            http_row["customer_id"],
        )
    assert rows[1]["result"]["claim_id"] == result.structured_content["claim_id"]


def test_get_claim_summary_answers_and_audits_as_http_does(
    gateway_url, api_url, fresh_reference, audit_rows, conversation_id
):
    bearer = token(agent_identity("claims-desk"))
    request = {"policy_number": "POL-10001", "claim_id": "CLM-000102"}

    result = call(
        gateway_url,
        bearer,
        "claim-summary___get_claim_summary",
        request | {"conversation_id": conversation_id, "customer_id": "cust-7788"},
    )
    http = httpx.post(
        f"{api_url}/agent/claim-summary",
        json=request,
        headers={
            "Authorization": f"Bearer {bearer}",
            "X-Conversation-Id": f"{conversation_id}-h",
            "X-Customer-Id": "cust-7788",
        },
    )

    assert http.status_code == 200
    assert result.is_error is False, result.content
    summary, http_summary = result.structured_content, http.json()
    assert summary is not None
    for per_call in ("as_of", "audit_id"):
        summary.pop(per_call)
        http_summary.pop(per_call)
    assert summary == http_summary
    (row,) = audit_rows(conversation_id)
    (http_row,) = audit_rows(f"{conversation_id}-h")
    row["result"].pop("as_of")
    http_row["result"].pop("as_of")
    assert comparable(row) == comparable(http_row)


def test_a_refusal_is_a_tool_error_with_our_code_audited_as_http_does(
    gateway_url, api_url, fresh_reference, audit_rows, conversation_id
):
    bearer = token(customer_identity("cust-7788"))
    arguments = {"conversation_id": conversation_id, "policy_number": "POL-99999"}

    result = call(gateway_url, bearer, "policy-lookup___lookup_policy", arguments)
    http = httpx.get(
        f"{api_url}/policies/POL-99999",
        headers={"Authorization": f"Bearer {bearer}", "X-Conversation-Id": f"{conversation_id}-h"},
    )

    assert http.status_code == 404
    assert result.is_error is True
    error = json.loads(result.content[0].text)["error"]
    assert error["code"] == http.json()["error"]["code"] == "POLICY_NOT_FOUND"
    (row,) = audit_rows(conversation_id)
    (http_row,) = audit_rows(f"{conversation_id}-h")
    assert row["request_id"] == error["request_id"]
    assert comparable(row) | {"result": None} == comparable(http_row) | {"result": None}
    assert row["result"]["error"]["code"] == http_row["result"]["error"]["code"]


def test_identity_forged_in_arguments_is_refused_and_audited_denied(
    gateway_url, fresh_reference, audit_rows, conversation_id
):
    bearer = token(customer_identity("cust-7788"))
    forged = {
        "conversation_id": conversation_id,
        "customer_id": "cust-9001",
        "policy_number": "POL-20001",
        "caller_assertion": "v1.forged.by-the-agent",
    }

    result = call(gateway_url, bearer, "policy-lookup___lookup_policy", forged)

    assert result.is_error is True
    (row,) = audit_rows(conversation_id)
    assert (row["channel"], row["outcome"]) == ("mcp", "denied")
    assert row["principal"] == f"customer:{customer_identity('cust-7788')['sub']}"


def test_no_token_no_tools(gateway_url):
    response = httpx.post(
        gateway_url,
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={"Accept": "application/json, text/event-stream"},
    )

    assert response.status_code == 401
