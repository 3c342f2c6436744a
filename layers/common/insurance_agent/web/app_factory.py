"""A function's FastAPI app: error model, call context, and the audit of refusals at the edge."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from insurance_agent.context import CallContext
from insurance_agent.errors import (
    AuditUnavailable,
    InsuranceAgentError,
    MissingHeader,
    RouteNotFound,
    ValidationFailed,
)
from insurance_agent.models import ConversationId, CustomerId, Intent
from insurance_agent.observability import logger
from insurance_agent.operations import Services, record_refusal
from insurance_agent.runtime import ContainerRuntime
from insurance_agent.validation import describe_errors, summarize_errors

REQUEST_ID_HEADER = "X-Request-Id"


def create_app(intent: Intent, runtime: ContainerRuntime, *, title: str) -> FastAPI:
    app = FastAPI(
        title=title,
        version="1.0.0",
        docs_url=None,
        redoc_url=None,
        responses={
            400: {"description": "A required header is missing"},
            422: {"description": "The request breaks a rule; the body names it"},
            502: {"description": "Upstream unavailable"},
            503: {"description": "Audit or upstream unavailable; retry"},
            504: {"description": "Upstream timed out"},
        },
    )
    app.state.intent = intent
    app.state.runtime = runtime
    app.add_exception_handler(InsuranceAgentError, _on_agent_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected)
    return app


# -- dependencies ------------------------------------------------------------------------------


def _event(request: Request) -> dict[str, Any]:
    event = request.scope.get("aws.event")
    return event if isinstance(event, dict) else {}


def request_id_of(request: Request) -> str:
    cached = getattr(request.state, "request_id", None)
    if cached:
        return str(cached)
    rc = _event(request).get("requestContext") or {}
    context = request.scope.get("aws.context")
    request_id = rc.get("requestId") or getattr(context, "aws_request_id", None) or "unknown"
    request.state.request_id = request_id
    return str(request_id)


def jwt_subject(request: Request) -> str | None:
    claims = ((_event(request).get("requestContext") or {}).get("authorizer") or {}).get("jwt")
    if isinstance(claims, dict) and isinstance(claims.get("claims"), dict):
        sub = claims["claims"].get("sub")
        return str(sub) if sub else None
    return None


def function_name_of(request: Request) -> str:
    context = request.scope.get("aws.context")
    return str(getattr(context, "function_name", None) or request.app.title)


# Dependencies and routes are ``async def``: FastAPI runs a plain ``def`` in a worker thread,
# and a Lambda container serves one request at a time, so each hop would buy nothing and cost
# ~70 us (16 hops per request, measured with `make bench`).
async def call_context(
    request: Request,
    x_conversation_id: Annotated[ConversationId, Header(description="The agent conversation")],
    x_customer_id: Annotated[CustomerId, Header(description="The customer the agent acts for")],
) -> CallContext:
    return CallContext(
        request_id=request_id_of(request),
        function_name=function_name_of(request),
        channel="http",
        conversation_id=x_conversation_id,
        customer_id=x_customer_id,
        principal=jwt_subject(request),
    )


async def services(request: Request) -> Services:
    runtime: ContainerRuntime = request.app.state.runtime
    return runtime.services


Context = Annotated[CallContext, Depends(call_context)]
ServicesDep = Annotated[Services, Depends(services)]


# -- errors: one body shape, and an audit row for every refusal ------------------------------


def _edge_context(request: Request) -> CallContext:
    """The context of a request refused before its operation ran: whatever ids were valid."""
    headers = request.headers
    conversation_id = headers.get("x-conversation-id")
    customer_id = headers.get("x-customer-id")
    from pydantic import TypeAdapter, ValidationError

    def valid(adapter: TypeAdapter[str], value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return adapter.validate_python(value)
        except ValidationError:
            return None

    return CallContext(
        request_id=request_id_of(request),
        function_name=function_name_of(request),
        channel="http",
        conversation_id=valid(TypeAdapter(ConversationId), conversation_id),
        customer_id=valid(TypeAdapter(CustomerId), customer_id),
        principal=jwt_subject(request),
    )


def error_response(error: InsuranceAgentError, request_id: str) -> JSONResponse:
    headers = {REQUEST_ID_HEADER: request_id}
    retry_after = error.details.get("retry_after_s") if error.retryable else None
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, round(float(retry_after))))
    return JSONResponse(error.body(request_id), status_code=error.status, headers=headers)


def _respond_audited(request: Request, error: InsuranceAgentError) -> JSONResponse:
    request_id = request_id_of(request)
    if not error.audited:
        payload = {"method": request.method, "path": request.url.path}
        if "errors" in error.details:
            payload["errors"] = error.details["errors"]
        try:
            record_refusal(
                request.app.state.runtime.services.audit,
                _edge_context(request),
                request.app.state.intent,
                payload,
                error,
            )
        except AuditUnavailable as audit_error:
            error = audit_error
    return error_response(error, request_id)


async def _on_agent_error(request: Request, error: InsuranceAgentError) -> JSONResponse:
    if error.status >= 500:
        logger.warning("request failed", extra={"code": error.code, "status": error.status})
    return _respond_audited(request, error)


async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = describe_errors(exc.errors())
    missing_headers = [
        e for e in exc.errors() if e.get("type") == "missing" and e.get("loc", ("",))[0] == "header"
    ]
    error: InsuranceAgentError
    if missing_headers:
        names = ", ".join(_header_name(e["loc"][-1]) for e in missing_headers)
        error = MissingHeader(f"missing required header: {names}", details={"errors": errors})
    else:
        error = ValidationFailed(
            f"invalid request: {summarize_errors(errors)}", details={"errors": errors}
        )
    return _respond_audited(request, error)


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    error: InsuranceAgentError
    if exc.status_code == 404:
        error = RouteNotFound(f"no route {request.method} {request.url.path}")
    elif exc.status_code == 405:
        error = RouteNotFound(
            f"method {request.method} not allowed on {request.url.path}",
            status=405,
            code="METHOD_NOT_ALLOWED",
        )
    else:
        error = ValidationFailed(str(exc.detail), status=exc.status_code, code="BAD_REQUEST")
    return _respond_audited(request, error)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error")
    return _respond_audited(request, InsuranceAgentError("internal error"))


def _header_name(field: object) -> str:
    return "-".join(part.capitalize() for part in str(field).split("-"))
