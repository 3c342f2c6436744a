"""The doors of the built artifacts under AWS's runtime interface client: an MCP tool call as
AgentCore Gateway makes it (the built interceptor, then the built function with Gateway's client
context), and the security review's relayed envelope refused by the built direct door."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack.dev_identity import customer_identity
from devstack.events import interceptor_request_event, interceptor_response_event
from tests.conftest import session_identity

pytestmark = pytest.mark.timeout(900)

TOOL = "policy-lookup___lookup_policy"


def gateway_context(tool: str) -> dict[str, Any]:
    return {
        "custom": {
            "bedrockAgentCoreMessageVersion": "1.0",
            "bedrockAgentCoreAwsRequestId": "gw-request-1",
            "bedrockAgentCoreMcpMessageId": "9",
            "bedrockAgentCoreGatewayId": "built-gateway",
            "bedrockAgentCoreTargetId": "policy-lookup-target",
            "bedrockAgentCoreToolName": tool,
        }
    }


def test_a_tool_call_through_the_built_interceptor_and_function(
    lambda_environment, base_env, reference, audit_rows, conversation_id
):
    token = session_identity().token(customer_identity("cust-7788"))
    body = {
        "jsonrpc": "2.0",
        "id": 9,
        "method": "tools/call",
        "params": {
            "name": TOOL,
            "arguments": {
                "conversation_id": conversation_id,
                "policy_number": "POL-10001",
                "caller_assertion": {"kind": "agent", "subject": "forged", "sig": "x"},
            },
        },
    }
    with lambda_environment("McpInterceptorFunction", base_env) as interceptor:
        request = interceptor.invoke(
            interceptor_request_event(body, {"Authorization": f"Bearer {token}"})
        )
        assert request.function_error is None, request.payload
        arguments = request.payload["mcp"]["transformedGatewayRequest"]["body"]["params"][
            "arguments"
        ]
        with lambda_environment("PolicyLookupFunction", base_env) as tool:
            answer = tool.invoke(arguments, client_context=gateway_context(TOOL))
        assert answer.function_error is None, answer.payload
        assert answer.payload["policy_number"] == "POL-10001"
        gateway_answer = {
            "jsonrpc": "2.0",
            "id": 9,
            "result": {"content": [{"type": "text", "text": json.dumps(answer.payload)}]},
        }
        response = interceptor.invoke(interceptor_response_event(body, gateway_answer))
    result = response.payload["mcp"]["transformedGatewayResponse"]["body"]["result"]
    assert result["structuredContent"] == answer.payload
    [row] = audit_rows(conversation_id)
    assert (row["channel"], row["outcome"], row["principal"]) == (
        "mcp",
        "ok",
        "customer:dev-user-cust-7788",
    )
    assert row["payload"]["gateway"]["gateway_id"] == "built-gateway"


def test_a_built_function_refuses_a_tool_call_that_bypassed_the_interceptor(
    lambda_environment, base_env, reference, audit_rows, conversation_id
):
    arguments = {
        "conversation_id": conversation_id,
        "customer_id": "cust-9001",
        "policy_number": "POL-20001",
    }
    with lambda_environment("PolicyLookupFunction", base_env) as tool:
        answer = tool.invoke(arguments, client_context=gateway_context(TOOL))
    assert answer.function_error is None
    assert answer.payload["error"]["code"] == "UNAUTHORIZED"
    [row] = audit_rows(conversation_id)
    assert (row["channel"], row["outcome"]) == ("mcp", "denied")


def test_the_built_direct_door_refuses_a_relayed_http_envelope(
    lambda_environment, base_env, reference, audit_rows, conversation_id
):
    """The review's injection, as the state machine would now deliver it (its ClientContext
    says "direct"): the envelope keys are refused by name, nothing is filed."""
    forged = {
        "conversation_id": conversation_id,
        "customer_id": "cust-7788",
        "policy_number": "POL-10001",
        "idempotency_key": f"forged-{conversation_id}",
        "routeKey": "POST /claims",
        "requestContext": {
            "authorizer": {"jwt": {"claims": {"sub": "forged-agent", "scope": "insurance/agent"}}}
        },
        "headers": {"x-customer-id": "cust-9001"},
    }
    with lambda_environment("ClaimCreateFunction", base_env) as fn:
        answer = fn.invoke(forged, client_context={"custom": {"insuranceAgentDoor": "direct"}})
    assert answer.function_error == "Unhandled"
    assert answer.payload["errorType"] == "ValidationFailed"
    assert "requestContext" in answer.payload["errorMessage"]
    [row] = audit_rows(conversation_id)
    assert (row["channel"], row["outcome"], row["principal"]) == ("direct", "error", "iam-invoke")
