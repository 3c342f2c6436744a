"""A function's FastAPI app: error model, call context, and the audit of refusals at the edge."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from insurance_agent.context import CallContext, refusal_context
from insurance_agent.doors.base import envelope_text
from insurance_agent.errors import (
    AuditUnavailable,
    InsuranceAgentError,
    MissingHeader,
    RouteNotFound,
    ValidationFailed,
)
from insurance_agent.models import ConversationId, CustomerId, ErrorBody, Intent
from insurance_agent.observability import logger
from insurance_agent.operations import record_refusal
from insurance_agent.principal import (
    Principal,
    jwt_context,
    principal_from_jwt,
    refused_principal,
)
from insurance_agent.runtime import ContainerRuntime
from insurance_agent.validation import describe_errors, summarize_errors

REQUEST_ID_HEADER = "X-Request-Id"


def create_app(intent: Intent, runtime: ContainerRuntime, *, title: str) -> FastAPI:
    app = FastAPI(
        title=title,
        version="1.0.0",
        docs_url=None,
        redoc_url=None,
        # Starlette answers a path with a trailing slash (`/policies/POL-10001%2F`) with a 307
        # built from the request's Host, before any handler or audit: off, so such a path is an
        # unknown route like any other, refused with its audit row and no Location at all.
        redirect_slashes=False,
        responses=error_responses(
            {
                400: "A required header is missing",
                401: "No verified identity on the request",
                403: "The token names no customer and no agent scope",
                404: "No such policy or claim for this customer",
                413: "The request body is larger than the limit",
                415: "The request body is not application/json",
                422: "The request breaks a rule; the body names it",
                502: "Upstream unavailable",
                503: "Audit or upstream unavailable; retry",
                504: "Upstream timed out",
            }
        ),
    )
    app.state.intent = intent
    # A route of another operation of the function: its intent, for the audit of refusals.
    app.state.route_intents = {}
    app.state.runtime = runtime
    app.add_exception_handler(InsuranceAgentError, _on_agent_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _on_validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _on_unexpected)
    return app


def error_responses(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses whose body is the error format, so the description tells callers (and
    the fuzz test) what a refusal looks like."""
    return {
        status: {"model": ErrorBody, "description": description}
        for status, description in descriptions.items()
    }


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
    request_id = (
        envelope_text(rc.get("requestId"))
        or envelope_text(getattr(context, "aws_request_id", None))
        or "unknown"
    )
    request.state.request_id = request_id
    return str(request_id)


def authenticated(request: Request) -> Principal:
    """The caller the gateway verified, never a header the caller set: 401/403 otherwise."""
    names = request.app.state.runtime.settings.claim_names
    principal = principal_from_jwt(jwt_context(_event(request)), names)
    request.state.principal = principal
    return principal


def function_name_of(request: Request) -> str:
    context = request.scope.get("aws.context")
    return str(getattr(context, "function_name", None) or request.app.title)


# Dependencies and routes are ``async def``: FastAPI runs a plain ``def`` in a worker thread,
# and a Lambda container serves one request at a time, so each hop would buy nothing and cost
# ~70 us (16 hops per request, measured with `make bench`).
#
# Authentication is called here rather than as a sub-dependency of its own: each dependency
# costs every request a parameter solving pass (~5 % of a warm lookup's CPU, measured with
# `python -m bench.profile`). A sub-dependency ran before this one's headers were validated, so
# an unauthenticated request with a malformed header was refused as unauthenticated; the
# validation error handler keeps that order by authenticating first (_on_validation_error).
async def call_context(
    request: Request,
    x_conversation_id: Annotated[
        ConversationId | None,
        Header(description="The agent conversation; required of an agent principal"),
    ] = None,
    x_customer_id: Annotated[
        CustomerId | None,
        Header(
            description="The customer the call acts for; required of an agent principal, "
            "a customer principal's own by default"
        ),
    ] = None,
) -> CallContext:
    principal = authenticated(request)
    if principal.names_its_caller_ids:
        _require_caller_headers(x_conversation_id=x_conversation_id, x_customer_id=x_customer_id)
    return CallContext(
        request_id=request_id_of(request),
        function_name=function_name_of(request),
        channel="http",
        conversation_id=x_conversation_id,
        # A customer naming someone else here stays confined to its own customer id: the
        # operation answers as for an unknown policy (operations._may_act).
        customer_id=x_customer_id or principal.customer_id,
        principal=principal,
    )


def _require_caller_headers(**headers: str | None) -> None:
    missing = [_header_name(name.replace("_", "-")) for name, value in headers.items() if not value]
    if missing:
        errors = describe_errors(
            [
                {"loc": ("header", name.lower()), "msg": "required of an agent", "type": "missing"}
                for name in missing
            ]
        )
        raise MissingHeader(
            f"missing required header: {', '.join(missing)} "
            "(an agent names the customer and the conversation it acts in)",
            details={"errors": errors},
        )


Context = Annotated[CallContext, Depends(call_context)]


# -- errors: one body shape, and an audit row for every refusal ------------------------------


def _edge_context(request: Request) -> CallContext:
    """The context of a request refused before its operation ran: whatever ids were valid."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        names = request.app.state.runtime.settings.claim_names
        principal = refused_principal(jwt_context(_event(request)), names)
    return refusal_context(
        CallContext(
            request_id=request_id_of(request),
            function_name=function_name_of(request),
            channel="http",
            principal=principal,
        ),
        request.headers,
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
                _intent_of(request),
                payload,
                error,
            )
        except AuditUnavailable as audit_error:
            error = audit_error
    return error_response(error, request_id)


def _intent_of(request: Request) -> Intent:
    """The intent of the route a request matched (FastAPI puts it in the scope)."""
    route = request.scope.get("route")
    intent: Intent = request.app.state.route_intents.get(
        getattr(route, "path", None), request.app.state.intent
    )
    return intent


async def _on_agent_error(request: Request, error: InsuranceAgentError) -> JSONResponse:
    if error.status >= 500:
        logger.warning("request failed", extra={"code": error.code, "status": error.status})
    return _respond_audited(request, error)


async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    if getattr(request.state, "principal", None) is None:
        # The request never reached call_context (its headers were refused first): who is
        # calling is still checked before what they sent, so a request without a verified
        # identity is told so, whatever else is wrong with it.
        try:
            authenticated(request)
        except InsuranceAgentError as refused:
            return _respond_audited(request, refused)
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
