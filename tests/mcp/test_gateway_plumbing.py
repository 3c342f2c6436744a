"""The local gateway's own behaviour, with recording functions in place of ours: what a target
and the interceptor receive (Gateway's event and context), over real HTTP with the MCP SDK's
client, for each protocol revision. The real functions are in test_gateway_doors.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from devstack.dev_identity import agent_identity
from devstack.local_api import LocalApi
from devstack.mcp_gateway import (
    Function,
    McpGateway,
    Target,
    container,
    gateway_id,
    mounted,
    target_id,
)
from devstack.mcp_tool_schema import TOOLS, committed_tools
from devstack.template import FunctionSpec
from tests.conftest import session_identity
from tests.mcp.conftest import mcp_session

MODES = ["legacy", "2026-07-28", "auto"]


class Recorder:
    """A handler that remembers each (event, context) and answers what ``answer`` says."""

    def __init__(self, answer: Any) -> None:
        self.calls: list[tuple[Any, Any]] = []
        self.answer = answer

    def __call__(self, event: Any, context: Any) -> Any:
        self.calls.append((event, context))
        return self.answer(event, context)


def stand_in_interceptor(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Marks what it saw: adds an argument on tools/call, structuredContent on a result."""
    mcp = event["mcp"]
    if "gatewayResponse" in mcp:
        body = dict(mcp["gatewayResponse"]["body"])
        result = body.get("result") or {}
        if "content" in result and not result.get("isError"):
            body["result"] = {
                **result,
                "structuredContent": json.loads(result["content"][0]["text"]),
            }
        return {
            "interceptorOutputVersion": "1.0",
            "mcp": {"transformedGatewayResponse": {"statusCode": 200, "body": body}},
        }
    body = dict(mcp["gatewayRequest"]["body"])
    if body["method"] == "tools/call":
        params = dict(body["params"])
        params["arguments"] = {**params.get("arguments", {}), "caller_assertion": "signed"}
        body["params"] = params
    return {"interceptorOutputVersion": "1.0", "mcp": {"transformedGatewayRequest": {"body": body}}}


def echo_tools() -> list[dict[str, Any]]:
    """lookup_policy's definition with an output schema the recording target's echo fits."""
    (tool,) = committed_tools(TOOLS["policy_lookup"].target)  # that target serves one tool
    return [tool | {"outputSchema": {"type": "object"}}]


def spec(logical_id: str) -> FunctionSpec:
    return FunctionSpec(logical_id, code_dir=None, handler="app.handler", routes=())  # type: ignore[arg-type]


@contextlib.contextmanager
def serving(gateway: McpGateway) -> Iterator[str]:
    with mounted(gateway, LocalApi([], authorizer=gateway.authorizer)) as url:
        yield url


@pytest.fixture(scope="module")
def recorded() -> Iterator[tuple[str, Recorder, Recorder]]:
    target_fn = Recorder(lambda event, context: {"echo": event})
    interceptor = Recorder(stand_in_interceptor)
    tool = TOOLS["policy_lookup"]
    gateway = McpGateway(
        [
            Target(
                tool.target,
                echo_tools(),
                Function(spec("T"), target_fn, container("T")),
            )
        ],
        interceptor=Function(spec("I"), interceptor, container("I")),
        authorizer=session_identity().authorizer(),
    )
    with serving(gateway) as url:
        yield url, target_fn, interceptor


def token() -> str:
    return session_identity().token(agent_identity("plumbing-agent"))


async def session(url: str, mode: str, calls: Any, bearer: str | None = None) -> Any:
    return await mcp_session(url, bearer or token(), calls, mode)


@pytest.mark.parametrize("mode", MODES)
def test_a_tool_call_reaches_the_target_as_gateway_invokes_a_lambda_target(recorded, mode):
    url, target_fn, interceptor = recorded
    target_fn.calls.clear()
    interceptor.calls.clear()
    arguments = {
        "conversation_id": "conv-1",
        "customer_id": "cust-7788",
        "policy_number": "POL-10001",
    }

    async def calls(client: Client) -> Any:
        listed = await client.list_tools()
        return listed, await client.call_tool("policy-lookup___lookup_policy", arguments)

    listed, result = asyncio.run(session(url, mode, calls))

    assert [t.name for t in listed.tools] == ["policy-lookup___lookup_policy"]
    ((event, context),) = target_fn.calls
    assert event == arguments | {"caller_assertion": "signed"}  # the interceptor's output
    custom = context.client_context.custom
    assert custom["bedrockAgentCoreToolName"] == "policy-lookup___lookup_policy"
    assert custom["bedrockAgentCoreGatewayId"] == gateway_id()
    assert custom["bedrockAgentCoreTargetId"] == target_id("policy-lookup")
    assert custom["bedrockAgentCoreMessageVersion"] == "1.0"
    assert custom["bedrockAgentCoreMcpMessageId"]
    assert len(custom["bedrockAgentCoreAwsRequestId"]) == 36
    assert set(custom) == {
        "bedrockAgentCoreToolName",
        "bedrockAgentCoreMessageVersion",
        "bedrockAgentCoreAwsRequestId",
        "bedrockAgentCoreMcpMessageId",
        "bedrockAgentCoreGatewayId",
        "bedrockAgentCoreTargetId",
    }
    assert context.function_name == "T"
    assert result.is_error is False
    assert json.loads(result.content[0].text) == {"echo": event}
    assert result.structured_content == {"echo": event}  # added by the RESPONSE interceptor
    # The revision spoken: 2026-07-28 is stateless (no initialize), the others handshake.
    (last_request, _), *_ = interceptor.calls[-1:]
    spoken = last_request["mcp"]["gatewayRequest"]["headers"]["mcp-protocol-version"]
    assert (
        spoken == {"legacy": "2025-11-25", "2026-07-28": "2026-07-28", "auto": "2026-07-28"}[mode]
    )


def test_the_interceptor_gets_gateways_payloads_with_the_request_headers(recorded):
    url, _, interceptor = recorded
    interceptor.calls.clear()
    bearer = token()

    asyncio.run(
        session(
            url, "legacy", lambda c: c.call_tool("policy-lookup___lookup_policy", {"a": 1}), bearer
        )
    )

    payloads = [event for event, _ in interceptor.calls]
    tool_calls = [
        p for p in payloads if p["mcp"]["gatewayRequest"]["body"]["method"] == "tools/call"
    ]
    request, response = tool_calls
    assert request["interceptorInputVersion"] == "1.0"
    assert "gatewayResponse" not in request["mcp"]
    gateway_request = request["mcp"]["gatewayRequest"]
    assert (gateway_request["path"], gateway_request["httpMethod"]) == ("/mcp", "POST")
    assert gateway_request["headers"]["authorization"] == f"Bearer {bearer}"
    assert gateway_request["body"]["params"] == {
        "name": "policy-lookup___lookup_policy",
        "arguments": {"a": 1},
    }
    assert json.loads(request["mcp"]["rawGatewayRequest"]["body"])["method"] == "tools/call"
    assert response["mcp"]["gatewayResponse"]["statusCode"] == 200
    assert response["mcp"]["gatewayResponse"]["body"]["result"]["isError"] is False
    # The response interceptor sees the request as transformed, caller_assertion included.
    assert response["mcp"]["gatewayRequest"]["body"]["params"]["arguments"]["caller_assertion"]


def test_an_unknown_tool_is_a_protocol_error(recorded):
    url, target_fn, _ = recorded
    target_fn.calls.clear()

    with pytest.raises(MCPError, match="Unknown tool"):
        asyncio.run(session(url, "legacy", lambda c: c.call_tool("policy-lookup___nope", {})))
    assert not target_fn.calls


def test_a_function_error_is_a_tool_error():
    def crash(event: Any, context: Any) -> Any:
        raise RuntimeError("boom")

    tool = TOOLS["policy_lookup"]
    gateway = McpGateway(
        [
            Target(
                tool.target,
                echo_tools(),
                Function(spec("T"), crash, container("T")),
            )
        ],
        interceptor=Function(spec("I"), stand_in_interceptor, container("I")),
        authorizer=session_identity().authorizer(),
    )
    with serving(gateway) as url:
        result = asyncio.run(
            session(url, "legacy", lambda c: c.call_tool("policy-lookup___lookup_policy", {}))
        )

    assert result.is_error is True
    assert json.loads(result.content[0].text) == {
        "errorMessage": "boom",
        "errorType": "RuntimeError",
    }


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer not-a-token"}, 401),
        ({"Host": "evil.example:80"}, 421),
        ({"Origin": "http://evil.example"}, 403),
        ({"Host": "localhost:1"}, 200),
    ],
)
def test_token_and_loopback_names_are_checked_before_anything_runs(recorded, headers, status):
    url, _, interceptor = recorded
    interceptor.calls.clear()
    sent = {
        "Authorization": f"Bearer {token()}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    }
    sent = sent | headers
    if not headers:
        del sent["Authorization"]
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"},
        },
    }

    response = httpx.post(url, json=body, headers=sent)

    assert response.status_code == status, response.text
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    if status == 200:
        assert response.json()["result"]["serverInfo"]["name"] == "insurance-agent-gateway"
