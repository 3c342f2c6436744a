"""The one error hierarchy of the API.

Every error carries an HTTP status, a stable machine ``code``, and -- by being a class -- the
name Step Functions sees as ``errorType`` when a direct invocation raises it. The state machine
retries or catches on exactly these class names.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

Outcome = Literal["ok", "error", "denied", "pending"]


class InsuranceAgentError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    retryable: ClassVar[bool] = False
    # How the audit trail records a request that ended in this error.
    outcome: ClassVar[Outcome] = "error"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        code: str | None = None,
        status: int | None = None,
        outcome: Outcome | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # Set once the error has its audit row, so the edge does not write a second one.
        self.audited = False
        self.details = details or {}
        # An instance may refine code and status (429 vs 500 upstream) while keeping the
        # class name, which is what Step Functions retries and catches on.
        if code is not None:
            self.code = code  # type: ignore[misc]
        if status is not None:
            self.status = status  # type: ignore[misc]
        # The audit's verdict may differ from what the caller is told (another customer's
        # policy: answered as unknown, recorded as denied) without a class the caller could see.
        if outcome is not None:
            self.outcome = outcome  # type: ignore[misc]

    def body(self, request_id: str | None) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "request_id": request_id,
                "details": self.details,
            }
        }


# -- the caller's request cannot be served as asked (4xx) ---------------------------------


class ValidationFailed(InsuranceAgentError):
    status = 422
    code = "VALIDATION_FAILED"


class MissingHeader(ValidationFailed):
    status = 400
    code = "MISSING_HEADER"


class PayloadTooLarge(ValidationFailed):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(ValidationFailed):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class UnsupportedEventSource(ValidationFailed):
    """An AWS service this function is not served through (an ALB, a REST API, a queue)."""

    status = 400
    code = "UNSUPPORTED_EVENT_SOURCE"


class Unauthorized(InsuranceAgentError):
    status = 401
    code = "UNAUTHORIZED"
    outcome = "denied"


class Forbidden(InsuranceAgentError):
    status = 403
    code = "FORBIDDEN"
    outcome = "denied"


class PolicyNotFound(InsuranceAgentError):
    status = 404
    code = "POLICY_NOT_FOUND"


def policy_not_found(policy_number: str, *, outcome: Outcome | None = None) -> PolicyNotFound:
    """The one answer for a policy the caller may not see, on every door: whether upstream has
    never heard of it or another customer holds it, the same class (``errorType``), code and
    words. Only the audit row's outcome tells them apart (``denied``)."""
    return PolicyNotFound(f"policy {policy_number} not found", outcome=outcome)


class ClaimNotFound(InsuranceAgentError):
    status = 404
    code = "CLAIM_NOT_FOUND"


class CustomerNotFound(InsuranceAgentError):
    status = 404
    code = "CUSTOMER_NOT_FOUND"


class RouteNotFound(InsuranceAgentError):
    status = 404
    code = "ROUTE_NOT_FOUND"


class PolicyNotInForce(InsuranceAgentError):
    status = 422
    code = "POLICY_NOT_IN_FORCE"
    outcome = "denied"


class PerilNotCovered(InsuranceAgentError):
    status = 422
    code = "PERIL_NOT_COVERED"
    outcome = "denied"


class IdempotencyConflict(InsuranceAgentError):
    status = 409
    code = "IDEMPOTENCY_CONFLICT"


class RequestInProgress(IdempotencyConflict):
    code = "REQUEST_IN_PROGRESS"
    retryable = True


# -- something we depend on failed (5xx); the state machine retries these ------------------


class UpstreamUnavailable(InsuranceAgentError):
    status = 502
    code = "UPSTREAM_UNAVAILABLE"
    retryable = True


class UpstreamBadResponse(UpstreamUnavailable):
    code = "UPSTREAM_BAD_RESPONSE"
    retryable = False


class UpstreamTimeout(InsuranceAgentError):
    status = 504
    code = "UPSTREAM_TIMEOUT"
    retryable = True


class AuditUnavailable(InsuranceAgentError):
    status = 503
    code = "AUDIT_UNAVAILABLE"
    retryable = True


class ConfigurationError(InsuranceAgentError):
    """A setting is missing or malformed: raised at container start, never per request."""

    status = 500
    code = "CONFIGURATION_ERROR"


def all_error_classes() -> list[type[InsuranceAgentError]]:
    """Every concrete error class, for the state machine contract test and the docs."""
    seen: list[type[InsuranceAgentError]] = []
    stack: list[type[InsuranceAgentError]] = [InsuranceAgentError]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen


class ConversationNotYours(Forbidden):
    """The conversation id is bound to another customer (the customer of its first audit row
    that names one): a conversation's trail is one customer's. 403, not 404: the caller is
    known and may not write there, and a 404 would tell an agent the id is free to reuse; the
    answer says no more than that the id is taken. Not retryable: start a new conversation."""

    code = "CONVERSATION_NOT_YOURS"
