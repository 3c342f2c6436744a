"""httpx client of the upstream insurance REST API (the system of record).

One ``httpx.Client`` per container, reused across warm invocations (a sync client: it is not
bound to an event loop, so Mangum's per-invocation loop cannot break it). Retries use
``stamina`` (exponential backoff with jitter, capped by a time budget, Retry-After honoured).
Every failure leaves as one of the layer's errors; nothing from httpx or pydantic escapes.

Upstream's own wording (a 4xx ``detail``) never reaches a caller: it may echo what we sent it,
our API key or a customer's personal data included. Our messages are built from our words and
the status alone; upstream's text goes, redacted and cut short, to the log.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from functools import cache
from typing import Any

import httpx
import stamina
from pydantic import BaseModel, TypeAdapter, ValidationError

from insurance_agent.errors import (
    ClaimNotFound,
    CustomerNotFound,
    IdempotencyConflict,
    InsuranceAgentError,
    UpstreamBadResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
    ValidationFailed,
    policy_not_found,
)
from insurance_agent.models import Claim, ClaimRequest, Customer, Policy, utc_now
from insurance_agent.observability import logger
from insurance_agent.redaction import redact_text

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
# A Retry-After longer than this is not waited for inside a Lambda invocation.
MAX_RETRY_AFTER_S = 2.0


@cache
def _claims_adapter() -> TypeAdapter[list[Claim]]:
    # Built on first use: importing this module must not build the Claim validator.
    return TypeAdapter(list[Claim])


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"upstream answered {response.status_code}")
        self.response = response


class BearerAuth(httpx.Auth):
    """Reads the key at each request so a rotated secret is picked up when its cache expires."""

    def __init__(self, key_provider: Callable[[], str]) -> None:
        self._key_provider = key_provider

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._key_provider()}"
        yield request


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - utc_now()).total_seconds())
    except (TypeError, ValueError):
        return None


def _backoff_hook(idempotent: bool) -> Callable[[Exception], bool | float]:
    def hook(exc: Exception) -> bool | float:
        # A refused or timed-out connect never reached upstream: safe for any method.
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return True
        if not idempotent:
            return False
        if isinstance(exc, httpx.RemoteProtocolError):
            return True
        if isinstance(exc, _RetryableStatus):
            wait = retry_after_seconds(exc.response)
            if wait is None:
                return True
            return wait if wait <= MAX_RETRY_AFTER_S else False
        return False

    return hook


class _SetCookiesOnly(httpx.Cookies):
    """The client's cookie jar, fed only by a response that sets a cookie. httpx hands every
    response to the jar through urllib's cookie machinery (~5 % of a warm lookup's CPU, measured
    with ``python -m bench.profile``) even when, as from the system of record, none is set."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers or "set-cookie2" in response.headers:
            super().extract_cookies(response)


class _UpstreamHttp(httpx.Client):
    """``httpx.Client`` with the jar above; everything else is httpx's own."""

    _jar: _SetCookiesOnly

    @property
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._jar = _SetCookiesOnly(cookies)


class InsuranceApiClient:
    """Implements ``ports.InsuranceApi`` over HTTP."""

    def __init__(
        self,
        base_url: str,
        key_provider: Callable[[], str],
        *,
        connect_timeout_s: float = 1.0,
        read_timeout_s: float = 3.0,
        retry_attempts: int = 3,
        retry_budget_s: float = 4.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._retry_attempts = retry_attempts
        self._retry_budget_s = retry_budget_s
        self._worker: ThreadPoolExecutor | None = None
        self.http = _UpstreamHttp(
            base_url=base_url,
            auth=BearerAuth(key_provider),
            timeout=httpx.Timeout(
                connect=connect_timeout_s, read=read_timeout_s, write=read_timeout_s, pool=1.0
            ),
            # A Lambda container serves one request at a time, with at most two upstream
            # requests in flight (policy_with_claims): two kept-alive connections.
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=2),
            headers={"Accept": "application/json", "User-Agent": "insurance-agent-api/0.1"},
            transport=transport,
        )
        self.http.cookies = httpx.Cookies()
        # Requests name absolute URLs: httpx parses a relative one, then the base URL joined
        # with it, a second time (~3 % of a warm lookup's CPU). The join is httpx's own: the
        # base URL's path (always ending in "/" in httpx) followed by ours without its "/".
        self._base_url = str(self.http.base_url).rstrip("/")

    # -- the port -------------------------------------------------------------------------

    def get_policy(self, policy_number: str) -> Policy:
        response = self._send(
            "GET", f"/v1/policies/{policy_number}", not_found=policy_not_found(policy_number)
        )
        return _parse(Policy, response)

    def list_claims(self, policy_number: str) -> list[Claim]:
        response = self._send(
            "GET",
            f"/v1/policies/{policy_number}/claims",
            not_found=policy_not_found(policy_number),
        )
        adapter = _claims_adapter()
        return _validated(adapter.validate_json, adapter.validate_python, response)

    def policy_with_claims(self, policy_number: str) -> tuple[Policy, list[Claim]]:
        """The policy and its claims, both requests in flight at once (the claims' on the
        client's one worker thread): a summary waits for the slower of the two, not their sum.
        Each keeps its retries and error mapping; the policy's failure wins, as when the policy
        was asked first, and the claims' request is waited for so nothing outlives the call."""
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upstream")
        claims = self._worker.submit(self.list_claims, policy_number)
        try:
            policy = self.get_policy(policy_number)
        except BaseException:
            with contextlib.suppress(Exception):
                claims.result()
            raise
        return policy, claims.result()

    def file_claim(self, claim: ClaimRequest, *, customer_id: str, idempotency_key: str) -> Claim:
        body = claim.model_dump(mode="json") | {"customer_id": customer_id}
        response = self._send(
            "POST",
            "/v1/claims",
            json=body,
            headers={"Idempotency-Key": idempotency_key},
            # Upstream deduplicates on the key, so a retried POST cannot file twice.
            idempotent=True,
            not_found=policy_not_found(claim.policy_number),
        )
        return _parse(Claim, response)

    def close(self) -> None:
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None
        self.http.close()

    def get_customer(self, customer_id: str) -> Customer:
        """A customer's profile (``GET /v1/customers/{customer_id}``): a GET, so retried and
        mapped like the policy reads."""
        response = self._send(
            "GET",
            f"/v1/customers/{customer_id}",
            not_found=CustomerNotFound(f"customer {customer_id} not found"),
        )
        return _parse(Customer, response)

    # -- transport, retries and error mapping ----------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        not_found: InsuranceAgentError | None = None,
        idempotent: bool | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        idempotent = method in ("GET", "HEAD") if idempotent is None else idempotent
        url = self._base_url + path

        def attempt_once() -> httpx.Response:
            response = self.http.request(method, url, json=json, headers=headers, params=params)
            if response.status_code in RETRYABLE_STATUS:
                raise _RetryableStatus(response)
            return response

        try:
            response = self._with_retries(attempt_once, _backoff_hook(idempotent))
        except _RetryableStatus as exc:
            raise _status_error(exc.response) from None
        except httpx.TimeoutException:
            raise UpstreamTimeout(
                f"upstream did not answer {method} {_route(path)} in time"
            ) from None
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(
                f"upstream unreachable for {method} {_route(path)}",
                details={"reason": type(exc).__name__},
            ) from None
        return self._check(response, not_found)

    def _with_retries(
        self, attempt_once: Callable[[], httpx.Response], retry_on: Callable[[Exception], Any]
    ) -> httpx.Response:
        """``attempt_once`` under stamina's retries: the first attempt before stamina's machinery
        is built (~45 us a request, ~3 % of a warm lookup's CPU), since nearly every request
        succeeds at once. A failure stamina would retry is handed to stamina as its own first
        attempt's (re-raised at once inside the retry context): the hook, backoff, jitter,
        instrumentation and testing mode are stamina's as before, and the time budget is what
        the first attempt left of it."""
        started = time.monotonic()
        try:
            return attempt_once()
        except Exception as exc:
            if not retry_on(exc):
                raise
            first = exc
        remaining = self._retry_budget_s - (time.monotonic() - started)
        if remaining <= 0:
            raise first  # stamina stops once the budget is spent
        replay = True
        for attempt in stamina.retry_context(
            on=retry_on,
            attempts=self._retry_attempts,
            timeout=remaining,
            wait_initial=0.05,
            wait_max=1.0,
            wait_jitter=0.1,
        ):
            with attempt:
                if replay:
                    replay = False
                    raise first
                return attempt_once()
        raise AssertionError("stamina returns or raises")  # pragma: no cover

    @staticmethod
    def _check(response: httpx.Response, not_found: InsuranceAgentError | None) -> httpx.Response:
        status = response.status_code
        if status < 400:
            return response
        _log_refusal(response)
        details = {"upstream_status": status}
        if status == 404:
            # No upstream_status here: an unknown policy must read exactly like another
            # customer's, which upstream is never asked about.
            raise not_found or ClaimNotFound("not found")
        if status in (400, 422):
            raise ValidationFailed("upstream refused the request as invalid", details=details)
        if status == 409:
            raise IdempotencyConflict(
                "upstream refused the request as conflicting with an earlier one", details=details
            )
        if status in (401, 403):
            raise UpstreamUnavailable(
                "upstream refused our credentials",
                code="UPSTREAM_AUTH_FAILED",
                details={"upstream_status": status},
            )
        raise UpstreamBadResponse(
            f"upstream answered an unexpected {status}", details={"upstream_status": status}
        )

    def find_claim(self, *, idempotency_key: str) -> Claim | None:
        """The claim upstream filed under this idempotency key, or None: the reconciler's
        question about a filing whose answer was lost."""
        response = self._send("GET", "/v1/claims", params={"idempotency_key": idempotency_key})
        try:
            found = _claims_adapter().validate_python(_json(response))
        except ValidationError as exc:
            raise _bad_shape(response, exc) from None
        return found[0] if found else None


def _status_error(response: httpx.Response) -> InsuranceAgentError:
    status = response.status_code
    details: dict[str, Any] = {"upstream_status": status}
    wait = retry_after_seconds(response)
    if wait is not None:
        details["retry_after_s"] = wait
    if status in (429, 503):
        return UpstreamUnavailable(
            "upstream is busy; try again later",
            status=503,
            code="UPSTREAM_THROTTLED",
            details=details,
        )
    if status == 504:
        return UpstreamTimeout("upstream gateway timed out", details=details)
    return UpstreamUnavailable(f"upstream failed with {status}", details=details)


def _route(path: str) -> str:
    return path.split("?", 1)[0]


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise UpstreamBadResponse(
            "upstream answered with a body that is not JSON",
            details={"upstream_status": response.status_code},
        ) from None


def _parse[M: BaseModel](model: type[M], response: httpx.Response) -> M:
    return _validated(model.model_validate_json, model.model_validate, response)


def _validated[T](
    from_json: Callable[[bytes], T], from_python: Callable[[Any], T], response: httpx.Response
) -> T:
    # pydantic reads the JSON itself, without building Python objects first (~3 % of a warm
    # lookup's CPU); a body it does not take for JSON goes the way it always went, so a body
    # Python's json reads (a BOM, UTF-16) is still read, and one it does not, still refused.
    try:
        return from_json(response.content)
    except ValidationError as exc:
        if not any(e["type"] == "json_invalid" for e in exc.errors()):
            raise _bad_shape(response, exc) from None
    try:
        return from_python(_json(response))
    except ValidationError as exc:
        raise _bad_shape(response, exc) from None


def _bad_shape(response: httpx.Response, exc: ValidationError) -> UpstreamBadResponse:
    fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})[:10]
    return UpstreamBadResponse(
        "upstream answered with an unexpected shape",
        details={"upstream_status": response.status_code, "fields": fields},
    )


def _log_refusal(response: httpx.Response) -> None:
    """Upstream's reason is for operators, never for callers, and even then redacted: it may
    echo our request (our key, a customer's e-mail)."""
    logger.info(
        "upstream refused a request",
        extra={
            "upstream_status": response.status_code,
            "upstream_reason": redact_text(_upstream_reason(response)),
        },
    )


def _upstream_reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        detail = body.get("detail") or body.get("message") or body.get("error")
        if isinstance(detail, str):
            return detail[:300]
        if detail is not None:
            return str(detail)[:300]
    return ""
