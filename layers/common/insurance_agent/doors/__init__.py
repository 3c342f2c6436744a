"""The doors: how each kind of invoker reaches the same three functions.

- ``http``: API Gateway HTTP API (payload v2) through Mangum to the function's FastAPI app.
- ``mcp``: an Amazon Bedrock AgentCore Gateway Lambda target (MCP ``tools/call``).
- ``direct``: a plain JSON task (Step Functions, scripts).
- ``bedrock``: a Bedrock Agents action group (legacy; in maintenance since 2026-07-30).

Which door serves an invocation is decided from what the invoker controls, never from what a
relayed payload contains (``door_kind``): AgentCore Gateway and our state machine say who they are
in the invocation's client context, which no payload can set; only an invocation without one is
told apart by the shape API Gateway or Bedrock give its event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

DoorKind = Literal["http", "mcp", "direct", "bedrock", "unsupported"]

# Set by AgentCore Gateway on every Lambda-target invocation (AgentCore developer guide,
# "Add a Lambda target"): ``<target>___<tool>``.
AGENTCORE_TOOL_KEY = "bedrockAgentCoreToolName"
# Set by our state machine (ClientContext of each lambda:invoke task): the door is "direct",
# whatever the task's fields look like.
DOOR_KEY = "insuranceAgentDoor"


def client_context_custom(context: Any) -> Mapping[str, Any]:
    """``context.client_context.custom`` (what the invoker put there), or an empty mapping."""
    custom = getattr(getattr(context, "client_context", None), "custom", None)
    return custom if isinstance(custom, Mapping) else {}


def is_http_api_event(event: Any) -> bool:
    return (
        isinstance(event, Mapping)
        and event.get("version") == "2.0"
        and isinstance(event.get("requestContext"), Mapping)
        and "routeKey" in event
    )


def is_bedrock_event(event: Any) -> bool:
    return isinstance(event, Mapping) and "actionGroup" in event and "messageVersion" in event


def foreign_source(event: Any) -> str | None:
    """The name of an AWS event source that can reach a function but is not served here."""
    if not isinstance(event, Mapping):
        return None
    request_context = event.get("requestContext")
    if isinstance(request_context, Mapping):
        if "elb" in request_context:
            return "Application Load Balancer"
        if "httpMethod" in event and "resource" in event:
            return "API Gateway REST API (payload 1.0)"
        if event.get("version") == "1.0":
            return "API Gateway HTTP API payload 1.0"
        if "http" in request_context and "routeKey" not in event:
            return "Lambda function URL"
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], Mapping):
        source = records[0].get("eventSource") or records[0].get("EventSource")
        return f"{source or 'an unknown service'} records"
    if "detail-type" in event and "source" in event:
        return "EventBridge"
    return None


def door_kind(event: Any, context: Any = None) -> DoorKind:
    custom = client_context_custom(context)
    if AGENTCORE_TOOL_KEY in custom:
        return "mcp"
    if custom.get(DOOR_KEY) == "direct":
        return "direct"
    if is_http_api_event(event):
        return "http"
    if is_bedrock_event(event):
        return "bedrock"
    if foreign_source(event) is not None:
        return "unsupported"
    return "direct"
