"""Narrow unit tests of the client's error mapping and retry decisions (httpx MockTransport).
The behaviour against a real upstream is proven in tests/integration/test_faults.py."""

from __future__ import annotations

import json

import httpx
import pytest
import stamina
from insurance_agent.errors import (
    IdempotencyConflict,
    PolicyNotFound,
    UpstreamBadResponse,
    UpstreamTimeout,
    UpstreamUnavailable,
    ValidationFailed,
)
from insurance_agent.upstream import InsuranceApiClient, retry_after_seconds

from tests.unit.test_domain import policy

POLICY = policy().model_dump(mode="json")


def client_for(handler) -> InsuranceApiClient:
    return InsuranceApiClient(
        "http://upstream.test",
        lambda: "k-123",
        transport=httpx.MockTransport(handler),
        retry_attempts=3,
        retry_budget_s=2.0,
    )


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (404, {"detail": "policy POL-10001 not found"}, PolicyNotFound, "POLICY_NOT_FOUND"),
        (
            422,
            {"detail": "customer does not hold this policy"},
            ValidationFailed,
            "VALIDATION_FAILED",
        ),
        (409, {"detail": "reused key"}, IdempotencyConflict, "IDEMPOTENCY_CONFLICT"),
        (401, {"detail": "bad key"}, UpstreamUnavailable, "UPSTREAM_AUTH_FAILED"),
        (500, {}, UpstreamUnavailable, "UPSTREAM_UNAVAILABLE"),
        (418, {}, UpstreamBadResponse, "UPSTREAM_BAD_RESPONSE"),
    ],
)
def test_status_mapping(status, body, error, code):
    client = client_for(lambda request: httpx.Response(status, json=body))

    with pytest.raises(error) as raised:
        client.get_policy("POL-10001")

    assert raised.value.code == code


@pytest.mark.parametrize("status", [400, 404, 409, 422])
@pytest.mark.parametrize("field", ["detail", "message", "error"])
def test_upstream_wording_never_reaches_our_error(status, field):
    echo = "you sent Bearer k-123 for pat@example.org"
    client = client_for(lambda r: httpx.Response(status, json={field: echo}))
    with pytest.raises(Exception) as raised:
        client.get_policy("POL-10001")
    body = str(raised.value.body("r"))  # type: ignore[attr-defined]
    assert "k-123" not in body
    assert "example.org" not in body
    assert "you sent" not in body


def test_bearer_key_is_sent_and_never_in_errors():
    seen = []

    def handler(request):
        seen.append(request.headers["authorization"])
        return httpx.Response(500)

    with pytest.raises(UpstreamUnavailable) as raised:
        client_for(handler).get_policy("POL-10001")

    assert seen == ["Bearer k-123"] * 3
    assert "k-123" not in str(raised.value.body("r"))


def test_post_is_not_retried_on_500_without_a_key_guarantee():
    calls = []

    def handler(request):
        calls.append(request.method)
        return httpx.Response(500)

    client = client_for(handler)
    with pytest.raises(UpstreamUnavailable):
        client._send("POST", "/v1/anything", idempotent=False)
    assert calls == ["POST"]


def test_read_timeout_is_504_without_retry():
    calls = []

    def handler(request):
        calls.append(1)
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(UpstreamTimeout):
        client_for(handler).get_policy("POL-10001")
    assert calls == [1]


def test_not_json_is_bad_response():
    client = client_for(lambda r: httpx.Response(200, text="<html>"))
    with pytest.raises(UpstreamBadResponse, match="not JSON"):
        client.get_policy("POL-10001")


@pytest.mark.parametrize(
    ("header", "expected"),
    [("2", 2.0), ("0", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("soon", None)],
)
def test_retry_after_parsing(header, expected):
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": header})) == expected


def test_a_body_in_an_encoding_pythons_json_reads_is_still_read_and_a_wrong_shape_named():
    """pydantic parses the JSON itself; what only Python's json reads (a UTF-8 BOM) goes
    the old way, and a JSON body of the wrong shape is refused naming its fields."""
    body = json.dumps(POLICY).encode()
    bom = client_for(lambda r: httpx.Response(200, content=b"\xef\xbb\xbf" + body))
    assert bom.get_policy("POL-10001").policy_number == "POL-10001"
    shapeless = client_for(lambda r: httpx.Response(200, json={"policy_number": 7}))
    with pytest.raises(UpstreamBadResponse, match="unexpected shape") as refused:
        shapeless.get_policy("POL-10001")
    assert "policy_number" in refused.value.details["fields"]


def test_a_cookie_upstream_sets_is_still_sent_back():
    """The jar is fed only by responses that set a cookie, and still fed by those."""
    sent: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("cookie"))
        return httpx.Response(200, json=POLICY, headers={"Set-Cookie": "lb=node-2; Path=/"})

    client = client_for(handler)
    client.get_policy("POL-10001")
    client.get_policy("POL-10001")
    assert sent == [None, "lb=node-2"]


def test_a_retried_first_failure_goes_through_stamina_and_its_switches():
    """The first attempt runs before stamina's machinery; a failure it would retry is retried
    by stamina (the answer of the second attempt), not when stamina is switched off, and not
    once the first attempt has spent the time budget."""
    calls: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503) if len(calls) == 1 else httpx.Response(200, json=POLICY)

    assert client_for(flaky).get_policy("POL-10001").policy_number == "POL-10001"
    assert len(calls) == 2

    calls.clear()
    stamina.set_active(False)
    try:
        with pytest.raises(UpstreamUnavailable):
            client_for(flaky).get_policy("POL-10001")
    finally:
        stamina.set_active(True)
    assert len(calls) == 1

    calls.clear()
    spent = InsuranceApiClient(
        "http://upstream.test",
        lambda: "k-123",
        transport=httpx.MockTransport(flaky),
        retry_budget_s=1e-9,
    )
    with pytest.raises(UpstreamUnavailable):
        spent.get_policy("POL-10001")
    assert len(calls) == 1
