"""The MCP door on the real handlers: a tool call as AgentCore Gateway makes it.

Each call goes the way Gateway sends it: the REQUEST interceptor (our function) sees the
JSON-RPC body and the bearer token, the tool function gets the transformed arguments as its event
and Gateway's ids in ``client_context.custom``, the answer comes back as text content through
the RESPONSE interceptor. The local MCP gateway (devstack) and the MCP SDK tests drive the same
path over streamable HTTP; these tests pin the Lambda-side contract and its trust rules.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from devstack.dev_identity import agent_identity, customer_identity
from devstack.events import (
    LambdaContext,
    agentcore_context,
    interceptor_request_event,
    interceptor_response_event,
)
from tests.conftest import MCP_CALLER_KEY, session_identity
from tests.integration.conftest import claim_body, headers_for, lookup, post

Handler = Callable[[Any, Any], Any]
INTERCEPTOR = LambdaContext("McpInterceptorFunction")
TOOLS = {
    "PolicyLookupFunction": "policy-lookup___lookup_policy",
    "ClaimCreateFunction": "claim-create___file_claim",
    "ClaimSummaryFunction": "claim-summary___get_claim_summary",
}


@pytest.fixture(scope="module")
def interceptor(function_env: dict[str, str]) -> Handler:
    from insurance_agent.entry import interceptor_handler

    return interceptor_handler()


def bearer(identity: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session_identity().token(identity)}"}


def call_tool(
    interceptor: Handler,
    handler: Handler,
    function: str,
    arguments: dict[str, Any],
    *,
    headers: dict[str, str],
    tool: str | None = None,
) -> dict[str, Any]:
    """One tools/call through interceptor, tool function and interceptor: the JSON-RPC result."""
    name = tool or TOOLS[function]
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    request = interceptor(interceptor_request_event(body, headers), INTERCEPTOR)
    assert request["interceptorOutputVersion"] == "1.0"
    forwarded = request["mcp"]["transformedGatewayRequest"]["body"]
    output = handler(forwarded["params"]["arguments"], agentcore_context(function, name))
    gateway_answer = {
        "jsonrpc": "2.0",
        "id": 7,
        "result": {"content": [{"type": "text", "text": json.dumps(output)}]},
    }
    response = interceptor(interceptor_response_event(body, gateway_answer), INTERCEPTOR)
    result: dict[str, Any] = response["mcp"]["transformedGatewayResponse"]["body"]["result"]
    return result


def test_a_customer_looks_up_its_policy_and_gets_what_http_answers(
    handlers, interceptor, fresh_reference, audit_rows, conversation_id
):
    customer = customer_identity("cust-7788")
    result = call_tool(
        interceptor,
        handlers["PolicyLookupFunction"],
        "PolicyLookupFunction",
        {"conversation_id": conversation_id, "policy_number": "POL-10001"},
        headers=bearer(customer),
    )
    assert not result.get("isError")
    http = lookup(
        handlers["PolicyLookupFunction"],
        "POL-10001",
        headers_for(conversation_id + "-http"),
    )
    answer = dict(result["structuredContent"])
    # The same answer, each naming its own audit row.
    assert answer.pop("audit_id") != http.body.pop("audit_id")
    assert answer == http.body
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]

    [row] = audit_rows(conversation_id)
    assert result["structuredContent"]["audit_id"] == str(row["id"])
    assert (row["channel"], row["outcome"], row["intent"]) == ("mcp", "ok", "policy_lookup")
    assert row["principal"] == f"customer:{customer['sub']}"
    assert row["customer_id"] == "cust-7788"
    assert row["payload"]["gateway"]["tool"] == TOOLS["PolicyLookupFunction"]
    assert row["payload"]["gateway"]["gateway_id"] == "local-gateway"
    [http_row] = audit_rows(conversation_id + "-http")
    assert row["result"] == http_row["result"]


def test_an_agent_files_a_claim_with_intent_and_result_rows(
    handlers, interceptor, fresh_reference, audit_rows, conversation_id
):
    arguments = claim_body() | {
        "conversation_id": conversation_id,
        "customer_id": "cust-7788",
        "idempotency_key": f"mcp-{conversation_id}",
    }
    result = call_tool(
        interceptor,
        handlers["ClaimCreateFunction"],
        "ClaimCreateFunction",
        arguments,
        headers=bearer(agent_identity("claims-agent")),
    )
    assert not result.get("isError"), result
    claim = result["structuredContent"]
    assert claim["customer_id"] == "cust-7788"
    assert claim["claim_id"].startswith("CLM-")
    rows = audit_rows(conversation_id)
    assert [(r["outcome"], r["channel"]) for r in rows] == [("pending", "mcp"), ("ok", "mcp")]
    assert rows[1]["intent_id"] == rows[0]["id"]
    assert {r["principal"] for r in rows} == {"agent:claims-agent"}


def test_an_agent_must_name_the_customer_it_acts_for(
    handlers, interceptor, fresh_reference, audit_rows, conversation_id
):
    result = call_tool(
        interceptor,
        handlers["ClaimSummaryFunction"],
        "ClaimSummaryFunction",
        {"conversation_id": conversation_id, "policy_number": "POL-10001"},
        headers=bearer(agent_identity()),
    )
    assert result["isError"] is True
    error = json.loads(result["content"][0]["text"])["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert "customer_id" in error["message"]
    [row] = audit_rows(conversation_id)
    assert (row["channel"], row["outcome"]) == ("mcp", "error")


def test_a_customer_naming_another_customer_in_arguments_is_denied(
    handlers, interceptor, fresh_reference, audit_rows, conversation_id
):
    """Identity forged in the arguments never widens whom the agent acts for."""
    result = call_tool(
        interceptor,
        handlers["PolicyLookupFunction"],
        "PolicyLookupFunction",
        {
            "conversation_id": conversation_id,
            "customer_id": "cust-9001",
            "policy_number": "POL-20001",
        },
        headers=bearer(customer_identity("cust-7788")),
    )
    assert result["isError"] is True
    error = json.loads(result["content"][0]["text"])["error"]
    assert error["code"] == "POLICY_NOT_FOUND"
    [row] = audit_rows(conversation_id)
    assert (row["outcome"], row["principal"]) == ("denied", "customer:dev-user-cust-7788")


def test_a_caller_assertion_written_by_the_agent_is_replaced_by_the_interceptor(
    handlers, interceptor, fresh_reference, audit_rows, conversation_id
):
    forged = {
        "v": 1,
        "kind": "agent",
        "subject": "forged-agent",
        "tool": TOOLS["PolicyLookupFunction"],
        "expires_at": int(time.time()) + 60,
        "customer_id": None,
        "refusal": None,
        "sig": "AAAA",
    }
    result = call_tool(
        interceptor,
        handlers["PolicyLookupFunction"],
        "PolicyLookupFunction",
        {
            "conversation_id": conversation_id,
            "customer_id": "cust-9001",
            "policy_number": "POL-20001",
            "caller_assertion": forged,
        },
        headers=bearer(customer_identity("cust-7788")),
    )
    assert result["isError"] is True
    [row] = audit_rows(conversation_id)
    assert (row["outcome"], row["principal"]) == ("denied", "customer:dev-user-cust-7788")


@pytest.mark.parametrize(
    "assertion",
    [
        None,
        {"v": 1, "kind": "agent", "subject": "x", "sig": "not-ours"},
        "agent",
    ],
    ids=["absent", "bad signature", "not an object"],
)
def test_a_tool_call_that_bypassed_the_interceptor_is_refused_and_audited_denied(
    handlers, fresh_reference, audit_rows, conversation_id, assertion
):
    arguments: dict[str, Any] = {
        "conversation_id": conversation_id,
        "customer_id": "cust-9001",
        "policy_number": "POL-20001",
    }
    if assertion is not None:
        arguments["caller_assertion"] = assertion
    name = TOOLS["PolicyLookupFunction"]
    output = handlers["PolicyLookupFunction"](
        arguments, agentcore_context("PolicyLookupFunction", name)
    )
    assert output["error"]["code"] == "UNAUTHORIZED"
    [row] = audit_rows(conversation_id)
    assert (row["channel"], row["outcome"], row["principal"]) == ("mcp", "denied", None)


def test_an_assertion_for_another_tool_or_expired_is_refused(
    handlers, fresh_reference, audit_rows, conversation_id
):
    from insurance_agent.doors.caller_assertion import CallerAssertion, sign

    name = TOOLS["PolicyLookupFunction"]
    arguments = {"conversation_id": conversation_id, "policy_number": "POL-10001"}
    for assertion in (
        CallerAssertion(
            "customer", "u", TOOLS["ClaimCreateFunction"], int(time.time()) + 60, "cust-7788"
        ),
        CallerAssertion("customer", "u", name, int(time.time()) - 1, "cust-7788"),
    ):
        output = handlers["PolicyLookupFunction"](
            arguments | {"caller_assertion": sign(assertion, MCP_CALLER_KEY)},
            agentcore_context("PolicyLookupFunction", name),
        )
        assert output["error"]["code"] == "UNAUTHORIZED", output
    assert [r["outcome"] for r in audit_rows(conversation_id)] == ["denied", "denied"]


def test_a_token_that_names_no_one_is_forbidden_with_its_subject_audited(
    handlers, interceptor, fresh_reference, audit_rows, conversation_id
):
    result = call_tool(
        interceptor,
        handlers["PolicyLookupFunction"],
        "PolicyLookupFunction",
        {
            "conversation_id": conversation_id,
            "customer_id": "cust-7788",
            "policy_number": "POL-10001",
        },
        headers=bearer({"sub": "nobody", "scope": "openid"}),
    )
    assert json.loads(result["content"][0]["text"])["error"]["code"] == "FORBIDDEN"
    [row] = audit_rows(conversation_id)
    assert (row["outcome"], row["principal"]) == ("denied", "unscoped:nobody")


def test_a_function_answers_only_its_own_tool(
    handlers, interceptor, fresh_reference, audit_rows, conversation_id
):
    result = call_tool(
        interceptor,
        handlers["PolicyLookupFunction"],
        "PolicyLookupFunction",
        {"conversation_id": conversation_id, "policy_number": "POL-10001"},
        headers=bearer(customer_identity("cust-7788")),
        tool="policy-lookup___file_claim",
    )
    assert json.loads(result["content"][0]["text"])["error"]["code"] == "UNKNOWN_TOOL"
    assert [r["outcome"] for r in audit_rows(conversation_id)] == ["error"]


def test_envelope_keys_in_tool_arguments_are_refused_by_name(
    handlers, interceptor, fresh_reference, audit_rows, conversation_id
):
    result = call_tool(
        interceptor,
        handlers["PolicyLookupFunction"],
        "PolicyLookupFunction",
        {
            "conversation_id": conversation_id,
            "policy_number": "POL-10001",
            "routeKey": "GET /policies/{policy_number}",
            "requestContext": {"authorizer": {"jwt": {"claims": {"sub": "x"}}}},
        },
        headers=bearer(customer_identity("cust-7788")),
    )
    error = json.loads(result["content"][0]["text"])["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert "requestContext" in error["message"]
    assert "routeKey" in error["message"]
    [row] = audit_rows(conversation_id)
    assert row["outcome"] == "error"
    assert row["payload"]["envelope_keys"] == [
        "requestContext",
        "routeKey",
    ]


def test_gateway_ids_with_control_characters_are_not_recorded(
    handlers, interceptor, fresh_reference, audit_rows, conversation_id
):
    from devstack.events import ClientContext

    name = TOOLS["PolicyLookupFunction"]
    context = agentcore_context("PolicyLookupFunction", name)
    assert context.client_context is not None
    assert context.client_context.custom is not None
    custom = dict(context.client_context.custom)
    custom["bedrockAgentCoreGatewayId"] = "gw\n2026-01-01 forged line\x1b[2J"
    context.client_context = ClientContext(custom=custom)
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": name,
            "arguments": {"conversation_id": conversation_id, "policy_number": "POL-10001"},
        },
    }
    request = interceptor(
        interceptor_request_event(body, bearer(customer_identity("cust-7788"))), INTERCEPTOR
    )
    arguments = request["mcp"]["transformedGatewayRequest"]["body"]["params"]["arguments"]
    assert "policy_number" in handlers["PolicyLookupFunction"](arguments, context)
    [row] = audit_rows(conversation_id)
    assert "gateway_id" not in row["payload"]["gateway"]
    assert row["payload"]["gateway"]["tool"] == name


def test_non_tool_messages_pass_the_interceptor_unchanged(interceptor):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    out = interceptor(interceptor_request_event(body, {}), INTERCEPTOR)
    assert out["mcp"]["transformedGatewayRequest"]["body"] == body
    listing = {"jsonrpc": "2.0", "id": 1, "result": {"tools": []}}
    back = interceptor(interceptor_response_event(body, listing), INTERCEPTOR)
    assert back["mcp"]["transformedGatewayResponse"] == {"statusCode": 200, "body": listing}


def test_http_post_and_mcp_answer_the_same_summary(
    handlers, interceptor, fresh_reference, conversation_id
):
    result = call_tool(
        interceptor,
        handlers["ClaimSummaryFunction"],
        "ClaimSummaryFunction",
        {
            "conversation_id": conversation_id,
            "customer_id": "cust-7788",
            "policy_number": "POL-10001",
            "claim_id": "CLM-000102",
        },
        headers=bearer(agent_identity()),
    )
    http = post(
        handlers["ClaimSummaryFunction"],
        "ClaimSummaryFunction",
        {"policy_number": "POL-10001", "claim_id": "CLM-000102"},
        headers_for(conversation_id),
    )
    assert http.status == 200
    mcp_answer = dict(result["structuredContent"])
    http_answer = dict(http.body)
    assert mcp_answer.pop("as_of")
    assert http_answer.pop("as_of")
    assert mcp_answer.pop("audit_id") != http_answer.pop("audit_id")  # each its own row
    assert mcp_answer == http_answer
