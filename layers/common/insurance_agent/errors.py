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
