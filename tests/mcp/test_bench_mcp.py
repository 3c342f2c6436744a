"""The MCP-vs-HTTP bench's logic that is not timing (no figures asserted)."""

from __future__ import annotations

import httpx
import mcp_types

from bench.mcp_door import TOOL, render, summarize, tool_call, tool_succeeded
from devstack.mcp_tool_schema import TOOLS


def test_the_tool_call_is_a_valid_mcp_request_for_the_claim_summary_tool():
    body = tool_call(3, "conv-b")

    request = mcp_types.CallToolRequest.model_validate(body)
    assert request.params.name == TOOL == TOOLS["claim_summary"].gateway_name
    assert request.params.arguments == {
        "policy_number": "POL-10001",
        "claim_id": "CLM-000102",
        "conversation_id": "conv-b",
        "customer_id": "cust-7788",
    }


def test_a_tool_error_or_a_protocol_error_counts_as_a_failure():
    ok = {"jsonrpc": "2.0", "id": 1, "result": {"content": [], "isError": False}}
    tool_error = {"jsonrpc": "2.0", "id": 1, "result": {"content": [], "isError": True}}
    protocol_error = {"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "x"}}

    assert tool_succeeded(httpx.Response(200, json=ok))
    assert not tool_succeeded(httpx.Response(200, json=tool_error))
    assert not tool_succeeded(httpx.Response(200, json=protocol_error))
    assert not tool_succeeded(httpx.Response(401, json={"message": "Unauthorized"}))


def test_summary_and_table():
    result = summarize({"http": [1.0, 2.0, 3.0], "mcp": [2.0, 4.0]}, {"mcp": 1})

    assert result["http"]["requests"] == 3
    assert result["http"]["failures"] == 0
    assert result["mcp"]["failures"] == 1
    assert result["http"]["p50_ms"] == 2.0
    table = render(result)
    assert any(TOOL in line and "| 2 | 1 |" in line for line in table)
