"""The Lambda entry point every function shares: one handler, three doors.

- API Gateway HTTP API (v2) events go through Mangum to the function's FastAPI app, which is
  imported on the first HTTP event only.
- Bedrock Agent action-group events are answered in Bedrock's response format.
- Anything else is a direct invocation (Step Functions, scripts): a JSON task.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import importlib
import json
import os
from collections.abc import Callable
from typing import Any

from insurance_agent.catalog import Operation
from insurance_agent.context import CallContext, refusal_context
from insurance_agent.direct import handle_direct
from insurance_agent.errors import (
    AuditUnavailable,
    InsuranceAgentError,
    PayloadTooLarge,
    ValidationFailed,
)
from insurance_agent.json_body import check_json_body
from insurance_agent.observability import logger, metrics
from insurance_agent.operations import record_refusal
from insurance_agent.principal import jwt_context, refused_principal
from insurance_agent.redaction import mask_event
from insurance_agent.runtime import ContainerRuntime

LambdaHandler = Callable[[Any, Any], Any]


def event_kind(event: Any) -> str:
    if isinstance(event, dict):
        if "actionGroup" in event and "messageVersion" in event:
            return "bedrock"
        if isinstance(event.get("requestContext"), dict) and "routeKey" in event:
            return "http"
    return "direct"


class FunctionEntry:
    """Holds what a warm container reuses; ``handler`` is what Lambda calls."""

    def __init__(self, operation: Operation, runtime: ContainerRuntime | None = None) -> None:
        self.operation = operation
        self.runtime = runtime or ContainerRuntime()
        self._http: LambdaHandler | None = None

    def handler(self, event: Any, context: Any) -> Any:
        kind = event_kind(event)
        logger.append_keys(intent=self.operation.intent, channel=kind)
        self.runtime.begin_invocation(context)
        if kind == "http":
            return self._handle_http(event, context)
        if kind == "bedrock":
            # Imported on the first Bedrock event only, like the FastAPI app for HTTP.
            from insurance_agent.bedrock import handle_bedrock

            return handle_bedrock(self.operation, self.runtime, event, context)
        return handle_direct(self.operation, self.runtime, event, context)

    def http_app(self) -> Any:
        module_name, factory = self.operation.http_app.split(":")
        return getattr(importlib.import_module(module_name), factory)(self.runtime)

    def _handle_http(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        request_id = str((event.get("requestContext") or {}).get("requestId") or "unknown")
        try:
            self._check_body(event)
        except ValidationFailed as error:
            return self._refuse(error, event, request_id, context)
        if self._http is None:
            from mangum import Mangum

            # Mangum asks asyncio for the thread's loop at every call; give the container one
            # up front (Python 3.12 deprecates creating it implicitly).
            asyncio.set_event_loop(asyncio.new_event_loop())
            self._http = Mangum(self.http_app(), lifespan="off")
        response: dict[str, Any] = self._http(event, context)
        response.setdefault("headers", {})["x-request-id"] = request_id
        return response

    def _check_body(self, event: dict[str, Any]) -> None:
        """Refuse, before the framework reads it, a body too large or not sound JSON."""
        body = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(body, validate=True)
            except binascii.Error:
                raise ValidationFailed("request body is not valid base64") from None
        else:
            raw = body.encode("utf-8", "surrogatepass")
        limit = self.runtime.settings.max_body_bytes
        if len(raw) > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes", details={"limit": limit})
        if raw and self.operation.method != "GET":
            check_json_body(raw, _headers(event).get("content-type"))

    def _refuse(
        self, error: InsuranceAgentError, event: dict[str, Any], request_id: str, context: Any
    ) -> dict[str, Any]:
        """Answer, and audit, a request refused before it reached the function's app."""
        ctx = refusal_context(
            CallContext(
                request_id=request_id,
                function_name=getattr(context, "function_name", "unknown"),
                channel="http",
                principal=refused_principal(jwt_context(event)),
            ),
            _headers(event),
        )
        http = (event.get("requestContext") or {}).get("http") or {}
        payload = {"method": http.get("method"), "path": event.get("rawPath")}
        if "errors" in error.details:
            payload["errors"] = error.details["errors"]
        try:
            record_refusal(self.runtime.services.audit, ctx, self.operation.intent, payload, error)
        except AuditUnavailable as audit_error:
            error = audit_error
        return {
            "statusCode": error.status,
            "headers": {"content-type": "application/json", "x-request-id": request_id},
            "body": json.dumps(error.body(request_id)),
            "isBase64Encoded": False,
        }


def _headers(event: dict[str, Any]) -> dict[str, Any]:
    """An HTTP API event's headers by lower-case name (API Gateway lower-cases them; a hand-made
    event may not)."""
    return {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}


def lambda_handler(operation: Operation) -> LambdaHandler:
    """Build a function's ``handler``: Powertools context in the logs, metrics flushed."""
    entry = FunctionEntry(operation)
    # POWERTOOLS_LOGGER_LOG_EVENT is honoured here rather than by Powertools, which would log
    # the raw event (Authorization header included): the event is masked first.
    log_event = os.environ.get("POWERTOOLS_LOGGER_LOG_EVENT", "false").lower() in ("1", "true")

    @metrics.log_metrics
    @logger.inject_lambda_context(clear_state=True, log_event=False)
    def handler(event: Any, context: Any) -> Any:
        metrics.add_metric(name="Invocations", unit="Count", value=1)
        if log_event:
            logger.info({"event": mask_event(event)})
        return entry.handler(event, context)

    handler.entry = entry  # type: ignore[attr-defined]  # for tests and the local server
    return handler
