"""The MCP door: an Amazon Bedrock AgentCore Gateway Lambda target.

Gateway invokes the function with the tool call's arguments as the event (no envelope) and names
the tool in ``context.client_context.custom["bedrockAgentCoreToolName"]`` as
``<target>___<tool>``, beside its own ids (AgentCore developer guide, "Add a Lambda target" and
"tool naming"). The arguments are the direct task's fields; who the agent acts for comes only
from the interceptor's signed caller assertion (doors/caller_assertion.py), and a customer's
agent that names no customer acts for its own.

The answer is the same model the other doors answer. A refusal is returned, not raised: Gateway
reports a Lambda function error to the agent as an unspecified internal error (unless its
debug exception level is on), so the agent would lose our code and message. The error body
comes back as the tool result, and the RESPONSE interceptor marks it ``isError``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from insurance_agent.api_key import mcp_caller_key_provider
from insurance_agent.context import CallContext, with_known_caller
from insurance_agent.doors import AGENTCORE_TOOL_KEY, client_context_custom
from insurance_agent.doors.base import Door, envelope_text
from insurance_agent.doors.caller_assertion import ARGUMENT, verify
from insurance_agent.doors.direct import refuse_envelope, run_task
from insurance_agent.errors import (
    Forbidden,
    InsuranceAgentError,
    RouteNotFound,
    ValidationFailed,
)
from insurance_agent.observability import logger

TOOL_SEPARATOR = "___"
# The ids Gateway sets beside the tool name, kept in the audit row's payload (``gateway``).
GATEWAY_IDS = {
    "tool": AGENTCORE_TOOL_KEY,
    "gateway_id": "bedrockAgentCoreGatewayId",
    "target_id": "bedrockAgentCoreTargetId",
    "mcp_message_id": "bedrockAgentCoreMcpMessageId",
    "gateway_request_id": "bedrockAgentCoreAwsRequestId",
    "message_version": "bedrockAgentCoreMessageVersion",
}


def gateway_ids(custom: Any) -> dict[str, str]:
    """The well-formed Gateway ids of an invocation (a malformed one is left out)."""
    found = {name: envelope_text(custom.get(key)) for name, key in GATEWAY_IDS.items()}
    return {name: value for name, value in found.items() if value is not None}


class McpDoor(Door):
    channel = "mcp"
    _key: Any = None

    def handle(self, event: Any, context: Any) -> dict[str, Any]:
        custom = client_context_custom(context)
        ids = gateway_ids(custom)
        ctx = CallContext(
            request_id=envelope_text(getattr(context, "aws_request_id", None)) or "unknown",
            function_name=str(getattr(context, "function_name", "unknown")),
            channel="mcp",
            gateway=ids,
        )
        try:
            tool = ids.get("tool")
            served = self.operation.tool
            if tool is None or tool.rpartition(TOOL_SEPARATOR)[2] != served:
                tools = ", ".join(op.tool for op in self.operations)
                raise RouteNotFound(
                    f"this function serves the tools {tools}, not {tool or 'an unnamed tool'}",
                    code="UNKNOWN_TOOL",
                )
            if not isinstance(event, dict):
                raise ValidationFailed("the tool's arguments must be a JSON object")
            arguments = dict(event)
            asserted = verify(arguments.pop(ARGUMENT, None), self.key(), tool=tool, now=time.time())
            principal = asserted.principal()
            ctx = replace(ctx, principal=principal, customer_id=principal.customer_id)
            if principal.kind == "unscoped":
                raise Forbidden(asserted.refusal or "the token names no customer and no scope")
            if principal.customer_id is not None:
                # A customer's agent acts for its own customer unless it names one; naming
                # another is refused by the operation like an unknown policy.
                arguments.setdefault("customer_id", principal.customer_id)
            refuse_envelope(self.runtime, self.operation, ctx, arguments)
            return run_task(self.operation, self.runtime, ctx, arguments).model_dump(mode="json")
        except InsuranceAgentError as error:
            if not error.audited:
                caller = event if isinstance(event, dict) else {}
                ctx = with_known_caller(
                    ctx,
                    conversation_id=caller.get("conversation_id"),
                    customer_id=caller.get("customer_id") or ctx.customer_id,
                )
            error = self.audited(ctx, error, {"tool": ids.get("tool")})
            if error.status >= 500:
                logger.warning("tool call failed", extra={"code": error.code})
            return error.body(ctx.request_id)

    def key(self) -> str:
        if self._key is None:
            self._key = mcp_caller_key_provider(self.runtime.settings)
        value: str = self._key()
        return value
