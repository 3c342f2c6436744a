"""The HTTP door: API Gateway HTTP API (payload v2) events through Mangum to the FastAPI app.

The app is imported on the first HTTP event only, so other doors never pay for FastAPI.
API Gateway has already matched the route (``routeKey``) and verified the token; a named stage
or a custom domain's API mapping key (``/v1``) stays in front of ``rawPath``, so the path the app
routes on is the route's own part of it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import importlib
import json
from typing import Any

from insurance_agent.catalog import Operation
from insurance_agent.context import CallContext, refusal_context
from insurance_agent.doors.base import Door, envelope_text
from insurance_agent.errors import InsuranceAgentError, PayloadTooLarge, ValidationFailed
from insurance_agent.json_body import check_json_body
from insurance_agent.principal import jwt_context, refused_principal


class HttpDoor(Door):
    channel = "http"
    _app: Any = None

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        request_id = request_id_of(event, context)
        operation = self.route_operation(event)
        try:
            self._check_body(event, operation)
        except ValidationFailed as error:
            return self._refuse(error, event, request_id, context, operation)
        if self._app is None:
            self.prepare()
        response: dict[str, Any] = self._app(route_relative(event), context)
        response.setdefault("headers", {})["x-request-id"] = request_id
        return response

    def prepare(self) -> None:
        """Build the app (on the first HTTP event, or at a SnapStart init: snapstart.py)."""
        from mangum import Mangum

        # Mangum asks asyncio for the thread's loop at every call; give the container one
        # up front (Python 3.12 deprecates creating it implicitly).
        asyncio.set_event_loop(asyncio.new_event_loop())
        self._app = Mangum(self.fastapi_app(), lifespan="off")

    def fastapi_app(self) -> Any:
        module_name, factory = self.operation.http_app.split(":")
        return getattr(importlib.import_module(module_name), factory)(self.runtime)

    def route_operation(self, event: dict[str, Any]) -> Operation:
        """The operation of the route API Gateway matched (the function's first otherwise)."""
        route_key = event.get("routeKey")
        return next(
            (op for op in self.operations if f"{op.method} {op.route}" == route_key),
            self.operation,
        )

    def _check_body(self, event: dict[str, Any], operation: Operation) -> None:
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
        if raw and operation.method != "GET":
            check_json_body(raw, headers_of(event).get("content-type"))

    def _refuse(
        self,
        error: InsuranceAgentError,
        event: dict[str, Any],
        request_id: str,
        context: Any,
        operation: Operation,
    ) -> dict[str, Any]:
        """Answer, and audit, a request refused before it reached the function's app."""
        ctx = refusal_context(
            CallContext(
                request_id=request_id,
                function_name=str(getattr(context, "function_name", "unknown")),
                channel="http",
                principal=refused_principal(jwt_context(event), self.runtime.settings.claim_names),
            ),
            headers_of(event),
        )
        http = (event.get("requestContext") or {}).get("http") or {}
        payload = {"method": http.get("method"), "path": event.get("rawPath")}
        if "errors" in error.details:
            payload["errors"] = error.details["errors"]
        error = self.audited(ctx, error, payload, operation)
        return {
            "statusCode": error.status,
            "headers": {"content-type": "application/json", "x-request-id": request_id},
            "body": json.dumps(error.body(request_id)),
            "isBase64Encoded": False,
        }


def request_id_of(event: dict[str, Any], context: Any) -> str:
    """API Gateway's request id when well-formed, else the invocation's."""
    request_context = event.get("requestContext") or {}
    return (
        envelope_text(request_context.get("requestId"))
        or envelope_text(getattr(context, "aws_request_id", None))
        or "unknown"
    )


def headers_of(event: dict[str, Any]) -> dict[str, Any]:
    """An HTTP API event's headers by lower-case name (API Gateway lower-cases them; a hand-made
    event may not)."""
    return {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}


def route_relative(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with what stands before the matched route in ``rawPath`` (a named stage, an
    API mapping key) removed: the route template has as many segments as the path it matched.
    For a ``$default`` (catch-all) route, whose template says nothing of the path, a named
    stage's own prefix is removed."""
    route_key = event.get("routeKey")
    raw_path = event.get("rawPath")
    if not isinstance(route_key, str) or not isinstance(raw_path, str):
        return event
    template = route_key.split(" ", 1)[1] if " " in route_key else ""
    if template.startswith("/") and "+}" not in template:
        want = template.count("/")
        segments = raw_path.split("/")
        if len(segments) - 1 <= want:
            return event
        prefix = "/".join(segments[: len(segments) - want])
    else:
        stage = (event.get("requestContext") or {}).get("stage")
        if not isinstance(stage, str) or stage == "$default":
            return event
        prefix = f"/{stage}"
        if not raw_path.startswith(prefix + "/"):
            return event
    request_context = dict(event.get("requestContext") or {})
    http = dict(request_context.get("http") or {})
    # http.path is rawPath decoded: the same prefix stands before it.
    path = http.get("path")
    if isinstance(path, str) and path.startswith(prefix + "/"):
        http["path"] = path[len(prefix) :]
    request_context["http"] = http
    return event | {"rawPath": raw_path[len(prefix) :], "requestContext": request_context}
