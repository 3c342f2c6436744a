"""The Lambda entry point every function shares: one handler, one door per kind of invoker.

The door is chosen by ``doors.door_kind`` from what the invoker controls (see doors/); each door
is built on its first event, so a container serving only Step Functions never imports FastAPI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from insurance_agent import snapstart
from insurance_agent.catalog import Operation
from insurance_agent.context import CallContext
from insurance_agent.doors import DoorKind, door_kind, foreign_source
from insurance_agent.doors.base import Door, envelope_text
from insurance_agent.errors import UnsupportedEventSource
from insurance_agent.observability import logger, metrics
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
    """Holds what a warm container reuses; ``handler`` is what Lambda calls."""

    def __init__(self, operation: Operation, runtime: ContainerRuntime | None = None) -> None:
        self.operation = operation
        self.runtime = runtime or ContainerRuntime()
        self._doors: dict[DoorKind, Door] = {}

    def handler(self, event: Any, context: Any) -> Any:
        kind = door_kind(event, context)
        logger.append_keys(intent=self.operation.intent, channel=kind)
        self.runtime.begin_invocation(context)
        if kind == "unsupported":
            return self._unsupported(event, context)
        return self.door(kind).handle(event, context)

    def door(self, kind: DoorKind) -> Door:
        door = self._doors.get(kind)
        if door is None:
            door = self._doors[kind] = _door_class(kind)(self.operation, self.runtime)
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
    """``handle`` with Powertools context in the logs and metrics flushed."""
    log_event = _log_event_switch()

    @metrics.log_metrics
    @logger.inject_lambda_context(clear_state=True, log_event=False)
    def handler(event: Any, context: Any) -> Any:
        metrics.add_metric(name="Invocations", unit="Count", value=1)
        if log_event:
            logger.info({"event": mask_event(event)})
        return handle(event, context)

    return handler


def lambda_handler(operation: Operation) -> LambdaHandler:
    """Build a function's ``handler``."""
    entry = FunctionEntry(operation)
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
