"""Every upstream status, over real HTTP against the reference service: how many times it is
asked (retried or not), what the caller gets (status, code), and that upstream's own words
never reach the caller. One row per status, so a changed retry set or mapping fails here."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.conftest import headers_for, lookup

# (upstream status, retried?, our status, our code)
MATRIX = [
    (429, True, 503, "UPSTREAM_THROTTLED"),
    (500, True, 502, "UPSTREAM_UNAVAILABLE"),
    (502, True, 502, "UPSTREAM_UNAVAILABLE"),
    (503, True, 503, "UPSTREAM_THROTTLED"),
    (504, True, 504, "UPSTREAM_TIMEOUT"),
    (400, False, 422, "VALIDATION_FAILED"),
    (401, False, 502, "UPSTREAM_AUTH_FAILED"),
    (403, False, 502, "UPSTREAM_AUTH_FAILED"),
    (404, False, 404, "POLICY_NOT_FOUND"),
    (409, False, 409, "IDEMPOTENCY_CONFLICT"),
    (422, False, 422, "VALIDATION_FAILED"),
    (418, False, 502, "UPSTREAM_BAD_RESPONSE"),
    (501, False, 502, "UPSTREAM_BAD_RESPONSE"),
]
ATTEMPTS = 3


def _fault(reference, **rule):
    with reference.admin() as admin:
        admin.post("/_admin/faults", json=rule).raise_for_status()


def _requests_seen(reference) -> int:
    with reference.admin() as admin:
        return int(admin.get("/_admin/stats").json()["requests"])


@pytest.mark.parametrize(("upstream", "retried", "status", "code"), MATRIX)
def test_each_upstream_status_is_retried_or_not_and_mapped(
    make_entry, fresh_reference, audit_rows, conversation_id, upstream, retried, status, code
):
    _fault(
        fresh_reference,
        path_prefix="/v1/policies/POL-10001",
        status=upstream,
        times=None,
        body=json.dumps({"detail": f"upstream wording {upstream} leaks nothing"}),
    )
    entry = make_entry("policy_lookup", upstream_retry_attempts=ATTEMPTS)
    before = _requests_seen(fresh_reference)

    answer = lookup(entry.handler, "POL-10001", headers_for(conversation_id))

    assert (answer.status, answer.body["error"]["code"]) == (status, code)
    assert _requests_seen(fresh_reference) - before == (ATTEMPTS if retried else 1)
    assert "upstream wording" not in json.dumps(answer.body)
    (row,) = audit_rows(conversation_id)
    assert row["error_code"] == code


@pytest.mark.parametrize("upstream", [s for s, retried, *_ in MATRIX if retried])
def test_a_transient_retryable_status_is_retried_to_success(
    make_entry, fresh_reference, conversation_id, upstream
):
    _fault(fresh_reference, path_prefix="/v1/policies/POL-10001", status=upstream, times=1)
    entry = make_entry("policy_lookup", upstream_retry_attempts=ATTEMPTS)
    before = _requests_seen(fresh_reference)

    answer = lookup(entry.handler, "POL-10001", headers_for(conversation_id))

    assert answer.status == 200
    assert _requests_seen(fresh_reference) - before == 2


@pytest.mark.parametrize("upstream", [429, 503])
def test_a_retry_after_longer_than_the_cap_is_not_retried(
    make_entry, fresh_reference, conversation_id, upstream
):
    _fault(
        fresh_reference,
        path_prefix="/v1/policies/POL-10001",
        status=upstream,
        retry_after="30",
        times=None,
    )
    entry = make_entry("policy_lookup", upstream_retry_attempts=ATTEMPTS)
    before = _requests_seen(fresh_reference)

    answer = lookup(entry.handler, "POL-10001", headers_for(conversation_id))

    assert _requests_seen(fresh_reference) - before == 1
    assert (answer.status, answer.body["error"]["code"]) == (503, "UPSTREAM_THROTTLED")
    assert answer.headers["retry-after"] == "30"
    assert answer.body["error"]["details"]["retry_after_s"] == 30.0


def test_a_retry_after_within_the_cap_is_waited_on_a_503(
    make_entry, fresh_reference, conversation_id
):
    _fault(
        fresh_reference,
        path_prefix="/v1/policies/POL-10001",
        status=503,
        retry_after="1",
        times=1,
    )
    entry = make_entry("policy_lookup", upstream_retry_attempts=ATTEMPTS)

    started = time.monotonic()
    answer = lookup(entry.handler, "POL-10001", headers_for(conversation_id))

    assert answer.status == 200
    assert time.monotonic() - started >= 0.9  # the second asked for, not stamina's 50 ms


def test_an_upstream_that_never_answers_is_504_on_the_direct_door_too(
    make_entry, fresh_reference, audit_rows, conversation_id
):
    """The read timeout, seen by Step Functions: the class it retries on, not a 502."""
    from insurance_agent.errors import UpstreamTimeout

    from devstack.events import LambdaContext

    _fault(fresh_reference, path_prefix="/v1/policies/POL-10001", delay_s=2.0, times=None)
    entry = make_entry("policy_lookup", upstream_read_timeout_s=0.3)
    task = {
        "conversation_id": conversation_id,
        "customer_id": "cust-7788",
        "policy_number": "POL-10001",
    }

    with pytest.raises(UpstreamTimeout) as raised:
        entry.handler(task, LambdaContext(function_name="PolicyLookupFunction"))

    assert (raised.value.status, raised.value.code) == (504, "UPSTREAM_TIMEOUT")
    assert [r["error_code"] for r in audit_rows(conversation_id)] == ["UPSTREAM_TIMEOUT"]
