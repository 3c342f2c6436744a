"""The Lambda entry point every function shares: one handler, one door per kind of invoker.

The door is chosen by ``doors.door_kind`` from what the invoker controls (see doors/); each door
is built on its first event, so a container serving only Step Functions never imports FastAPI.
A function serving several operations picks one per invocation, again only from what the
invoker controls (``operation_for``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from insurance_agent import snapstart
from insurance_agent.catalog import OPERATION_KEY, Operation, served_with
from insurance_agent.context import CallContext
from insurance_agent.doors import (
    AGENTCORE_TOOL_KEY,
    DoorKind,
    client_context_custom,
    door_kind,
    foreign_source,
)
from insurance_agent.doors.base import Door, envelope_text
from insurance_agent.errors import UnsupportedEventSource
from insurance_agent.observability import logger
from insurance_agent.operations import record_refusal
from insurance_agent.redaction import mask_event
from insurance_agent.runtime import ContainerRuntime

LambdaHandler = Callable[[Any, Any], Any]

# Kept for the tests and tools that ask which door an event would take.
event_kind = door_kind


def _door_class(kind: DoorKind) -> type[Door]:
    # Imported on a door's first event only.
    if kind == "http":
        from insurance_agent.doors.http import HttpDoor

        return HttpDoor
    if kind == "mcp":
        from insurance_agent.doors.agentcore import McpDoor

        return McpDoor
    if kind == "bedrock":
        from insurance_agent.doors.bedrock import BedrockDoor

        return BedrockDoor
    from insurance_agent.doors.direct import DirectDoor

    return DirectDoor


class FunctionEntry:
    """Holds what a warm container reuses; ``handler`` is what Lambda calls.

    ``operations`` are the function's (catalog.FUNCTIONS); one operation stands for every
    operation of the function that serves it.
    """

    def __init__(
        self,
        operations: Operation | Sequence[Operation],
        runtime: ContainerRuntime | None = None,
    ) -> None:
        self.operations = (
            served_with(operations) if isinstance(operations, Operation) else tuple(operations)
        )
        self.operation = self.operations[0]
        self.runtime = runtime or ContainerRuntime()
        self._doors: dict[tuple[DoorKind, str], Door] = {}

    def handler(self, event: Any, context: Any) -> Any:
        kind = door_kind(event, context)
        operation = self.operation_for(kind, event, context)
        logger.append_keys(intent=operation.intent, channel=kind)
        self.runtime.begin_invocation(context)
        if kind == "unsupported":
            return self._unsupported(event, context)
        return self.door(kind, operation).handle(event, context)

    def operation_for(self, kind: DoorKind, event: Any, context: Any) -> Operation:
        """The operation an invocation asks for, from what its invoker controls: the tool name
        Gateway sets, the operation our state machine names in its client context, the route
        API Gateway matched, the action Bedrock chose. Anything else: the function's first
        operation, whose door refuses what it does not serve (an unknown tool or operation)."""
        found: Operation | None = None
        if kind == "mcp":
            tool = str(client_context_custom(context).get(AGENTCORE_TOOL_KEY) or "")
            found = self._find(lambda op: op.tool == tool.rpartition("___")[2])
        elif kind == "direct":
            name = client_context_custom(context).get(OPERATION_KEY)
            found = self._find(lambda op: op.intent == name)
        elif kind == "http" and isinstance(event, Mapping):
            route_key = str(event.get("routeKey") or "")
            found = self._find(lambda op: f"{op.method} {op.route}" == route_key)
        elif kind == "bedrock" and isinstance(event, Mapping):
            asked = (str(event.get("httpMethod") or "").upper(), event.get("apiPath"))
            found = self._find(lambda op: (op.method, op.route) == asked)
        return found or self.operations[0]

    def _find(self, matches: Callable[[Operation], bool]) -> Operation | None:
        return next((op for op in self.operations if matches(op)), None)

    def door(self, kind: DoorKind, operation: Operation | None = None) -> Door:
        # One HTTP door per function: its FastAPI app serves every route of the function.
        operation = self.operation if kind == "http" or operation is None else operation
        key = (kind, operation.intent)
        door = self._doors.get(key)
        if door is None:
            door = self._doors[key] = _door_class(kind)(operation, self.runtime, self.operations)
        return door

    def http_app(self) -> Any:
        from insurance_agent.doors.http import HttpDoor

        door = self.door("http")
        assert isinstance(door, HttpDoor)
        return door.fastapi_app()

    def _unsupported(self, event: Any, context: Any) -> Any:
        """Refuse, audited, an event from a service the functions are not served through: an
        HTTP-style source gets a 400 answer it can relay, any other an error it reports."""
        source = foreign_source(event) or "an unknown source"
        error = UnsupportedEventSource(
            f"{self.operation.intent} is not served to {source}: call it through the HTTP API, "
            "AgentCore Gateway (MCP), Step Functions or a direct invocation",
            details={"source": source},
        )
        request_id = envelope_text(getattr(context, "aws_request_id", None)) or "unknown"
        ctx = CallContext(
            request_id=request_id,
            function_name=str(getattr(context, "function_name", "unknown")),
            channel="direct",
        )
        record_refusal(
            self.runtime.services.audit, ctx, self.operation.intent, {"source": source}, error
        )
        if isinstance(event, dict) and isinstance(event.get("requestContext"), dict):
            return {
                "statusCode": error.status,
                "headers": {"content-type": "application/json", "x-request-id": request_id},
                "body": json.dumps(error.body(request_id)),
                "isBase64Encoded": False,
            }
        error.args = (f"{error.code}: {error.message}",)
        raise error


def _log_event_switch() -> bool:
    # POWERTOOLS_LOGGER_LOG_EVENT is honoured here rather than by Powertools, which would log
    # the raw event (Authorization header included): the event is masked first.
    return os.environ.get("POWERTOOLS_LOGGER_LOG_EVENT", "false").lower() in ("1", "true")


def _instrumented(handle: LambdaHandler) -> LambdaHandler:
    """``handle`` with Powertools' Lambda context in the log lines.

    No metric is written per invocation: Lambda publishes ``Invocations``, ``Errors``,
    ``Duration`` and ``Throttles`` for every function itself (``AWS/Lambda``, the template's
    alarms read them). A custom ``Invocations`` of our own cost each invocation an EMF log line
    (ingested and billed) and ~90 us of CPU (Powertools' metric set serialised and flushed, a
    twentieth of a warm lookup's, measured with bench/experiments). Our own metrics are the
    ones Lambda cannot know, each written when it happens (``observability.count_server_error``).
    """
    log_event = _log_event_switch()

    @logger.inject_lambda_context(clear_state=True, log_event=False)
    def handler(event: Any, context: Any) -> Any:
        if log_event:
            logger.info({"event": mask_event(event)})
        return handle(event, context)

    return handler


def lambda_handler(operations: Operation | Sequence[Operation]) -> LambdaHandler:
    """Build a function's ``handler`` (one operation stands for its function's)."""
    entry = FunctionEntry(operations)
    handler = _instrumented(entry.handler)
    handler.entry = entry  # type: ignore[attr-defined]  # for tests and the local server
    # A SnapStart init does the first event's work now (snapstart.py); otherwise nothing.
    snapstart.prepare(entry)
    return handler


def interceptor_handler() -> LambdaHandler:
    """Build the AgentCore Gateway interceptor function's ``handler``."""
    from insurance_agent.doors.interceptor import GatewayInterceptor

    interceptor = GatewayInterceptor()
    handler = _instrumented(interceptor.handler)
    handler.interceptor = interceptor  # type: ignore[attr-defined]
    return handler
