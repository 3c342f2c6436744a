"""The local gateway where it used to differ from API Gateway (issue 11, item 13): duplicate
headers joined with commas, a 10 MB body cap answered before any function runs, a read timeout,
scope claims of odd shapes refused, and credentials in non-standard headers masked when events
are logged."""

from __future__ import annotations

import http.client
import json
import socket
import time
from urllib.parse import urlsplit

import pytest
from insurance_agent.redaction import MASK, mask_event

from devstack import local_api
from devstack.dev_identity import DevIdentityProvider, agent_identity
from devstack.jwt_authorizer import TokenRejected
from devstack.local_api import MAX_BODY_BYTES, gateway_headers
from tests.conftest import session_identity
from tests.integration.conftest import claim_body, headers_for, local_api_url


def _connection(api_url: str) -> http.client.HTTPConnection:
    parts = urlsplit(api_url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def test_duplicate_headers_are_joined_with_commas_as_the_gateway_does():
    assert gateway_headers([("X-A", "1"), ("x-a", "2"), ("B", "3")]) == {"x-a": "1,2", "b": "3"}


def test_a_duplicated_customer_header_is_not_silently_the_last_one(
    api_url, fresh_reference, audit_rows, conversation_id
):
    conn = _connection(api_url)
    conn.putrequest("GET", "/policies/POL-20001")
    for name, value in headers_for(conversation_id, customer_id=None).items():
        conn.putheader(name, value)
    conn.putheader("X-Customer-Id", "cust-9001")
    conn.putheader("X-Customer-Id", "cust-7788")  # last-wins would read this one
    conn.endheaders()
    answer = conn.getresponse()
    body = json.loads(answer.read())

    assert answer.status == 422, body
    assert "x-customer-id" in json.dumps(body["error"]["details"])


def _raw(api_url: str, request: bytes, *, wait_s: float = 5.0) -> bytes:
    parts = urlsplit(api_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=wait_s) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_a_body_over_10_mb_is_refused_before_any_function_runs(
    api_url, fresh_reference, audit_rows, conversation_id
):
    head = "".join(f"{k}: {v}\r\n" for k, v in headers_for(conversation_id).items())
    request = (
        f"POST /claims HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n"
    ).encode() + b"{"

    reply = _raw(api_url, request)

    assert reply.startswith(b"HTTP/1.1 413"), reply[:80]
    assert b'{"message": "Request Entity Too Large"}' in reply
    assert audit_rows(conversation_id) == []


def test_a_body_at_the_limit_is_read_and_answered_by_the_function(
    api_url, fresh_reference, conversation_id
):
    body = json.dumps(claim_body(description="x" * 100)).encode()
    padded = body[:-1] + b" " * (MAX_BODY_BYTES - len(body)) + b"}"
    conn = _connection(api_url)
    headers = headers_for(conversation_id, idempotency_key=f"big-{conversation_id}")
    conn.request("POST", "/claims", body=padded, headers=headers)
    answer = conn.getresponse()
    answer.read()

    assert answer.status == 413  # the function's own 1 MB cap, not the gateway's
    assert answer.getheader("x-request-id")


def test_a_malformed_content_length_is_a_bad_request(api_url):
    reply = _raw(api_url, b"POST /claims HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400")


def test_a_client_that_stops_sending_is_cut_off(handlers, monkeypatch):
    monkeypatch.setattr(local_api, "READ_TIMEOUT_S", 0.5)
    with local_api_url(handlers, session_identity().authorizer()) as url:
        started = time.monotonic()
        reply = _raw(
            url,
            b"POST /claims HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
            wait_s=10,
        )
        elapsed = time.monotonic() - started

    assert reply == b""  # closed without invoking anything
    assert elapsed < 5


@pytest.mark.parametrize(
    "claims",
    [{"scope": 5}, {"scope": {"a": 1}}, {"scope": ["insurance/agent"]}, {"scp": [{"x": 1}]}],
)
def test_scope_claims_of_odd_shapes_are_refused(claims):
    provider = DevIdentityProvider.generate("http://127.0.0.1:3000/dev-issuer")
    token = provider.token(agent_identity() | claims)

    with pytest.raises(TokenRejected, match=r"scope|scp"):
        provider.authorizer().verify(f"Bearer {token}")


def test_scopes_as_a_string_or_a_scp_list_still_pass():
    provider = DevIdentityProvider.generate("http://127.0.0.1:3000/dev-issuer")
    verified = provider.authorizer().verify(
        provider.token(agent_identity() | {"scope": "a b", "scp": ["b", "c"]})
    )
    assert verified["scopes"] == ["a", "b", "c"]


def test_credentials_in_non_standard_headers_are_masked_in_logged_events():
    event = {
        "headers": {
            "x-auth-token": "opaque-0a1b2c3d4e5f",
            "x-upstream-secret": "s3cr3t-value-123",
            "proxy-authorization": "Basic dXNlcjpwYXNz",
            "x-session-id": "sess-998877",
            "x-forwarded-for": "203.0.113.9",
            "idempotency-key": "demo-claim-0001",
            "x-conversation-id": "conv-001",
        }
    }

    masked = mask_event(event)["headers"]

    for name in ("x-auth-token", "x-upstream-secret", "proxy-authorization", "x-session-id"):
        assert masked[name] == MASK, name
    assert masked["idempotency-key"] == "demo-claim-0001"
    assert masked["x-conversation-id"] == "conv-001"
