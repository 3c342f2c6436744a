"""Faults upstream and in the database: mapped statuses, audited when the database is up,
and nothing filed upstream when the audit cannot be written."""

from __future__ import annotations

import time

from devstack.stack import free_port
from tests.conftest import upstream_claim_count
from tests.integration.conftest import claim_body, headers_for, lookup, post


def _fault(reference, **rule):
    with reference.admin() as admin:
        admin.post("/_admin/faults", json=rule).raise_for_status()


def _requests_seen(reference) -> int:
    with reference.admin() as admin:
        return int(admin.get("/_admin/stats").json()["requests"])


def _idem(conversation_id):
    return headers_for(conversation_id, **{"Idempotency-Key": f"fault-{conversation_id}"})


def test_upstream_down_is_502_and_audited(make_entry, audit_rows, conversation_id):
    entry = make_entry(
        "policy_lookup", fastapi_insurance_base_url=f"http://127.0.0.1:{free_port()}"
    )

    answer = lookup(entry.handler, "POL-10001", headers_for(conversation_id))

    assert answer.status == 502
    assert answer.body["error"]["code"] == "UPSTREAM_UNAVAILABLE"
    (row,) = audit_rows(conversation_id)
    assert (row["outcome"], row["error_code"]) == ("error", "UPSTREAM_UNAVAILABLE")


def test_slow_upstream_is_504_within_the_read_timeout(
    make_entry, fresh_reference, audit_rows, conversation_id
):
    _fault(fresh_reference, path_prefix="/v1/policies", delay_s=2.0, times=None)
    entry = make_entry("policy_lookup", upstream_read_timeout_s=0.3)

    started = time.monotonic()
    answer = lookup(entry.handler, "POL-10001", headers_for(conversation_id))
    elapsed = time.monotonic() - started

    assert answer.status == 504
    assert answer.body["error"]["code"] == "UPSTREAM_TIMEOUT"
    assert elapsed < 1.5  # bounded by the read timeout, not by the 2 s the upstream takes
    assert audit_rows(conversation_id)[0]["error_code"] == "UPSTREAM_TIMEOUT"


def test_transient_500s_are_retried(handlers, fresh_reference, conversation_id):
    _fault(fresh_reference, path_prefix="/v1/policies/POL-10001", status=500, times=2)

    answer = lookup(handlers["PolicyLookupFunction"], "POL-10001", headers_for(conversation_id))

    assert answer.status == 200
    assert _requests_seen(fresh_reference) == 3  # two injected 500s, then the answer


def test_persistent_500_is_502_after_bounded_retries(
    make_entry, fresh_reference, audit_rows, conversation_id
):
    _fault(fresh_reference, path_prefix="/v1/policies", status=500, times=None)
    entry = make_entry("policy_lookup", upstream_retry_attempts=3)
    before = _requests_seen(fresh_reference)

    answer = lookup(entry.handler, "POL-10001", headers_for(conversation_id))

    assert answer.status == 502
    assert answer.body["error"]["details"]["upstream_status"] == 500
    assert _requests_seen(fresh_reference) - before == 3  # attempts, bounded
    assert audit_rows(conversation_id)[0]["outcome"] == "error"


def test_throttling_honours_retry_after_then_maps_to_503(
    handlers, fresh_reference, audit_rows, conversation_id
):
    _fault(fresh_reference, path_prefix="/v1/policies", status=429, retry_after="30", times=None)

    started = time.monotonic()
    answer = lookup(handlers["PolicyLookupFunction"], "POL-10001", headers_for(conversation_id))

    # Retry-After 30 s is longer than a Lambda invocation should wait: answered at once.
    assert time.monotonic() - started < 1.0
    assert answer.status == 503
    assert answer.body["error"]["code"] == "UPSTREAM_THROTTLED"
    assert answer.headers["retry-after"] == "30"
    assert audit_rows(conversation_id)[0]["error_code"] == "UPSTREAM_THROTTLED"


def test_short_retry_after_is_waited_and_retried(handlers, fresh_reference, conversation_id):
    _fault(fresh_reference, path_prefix="/v1/policies", status=429, retry_after="1", times=1)

    started = time.monotonic()
    answer = lookup(handlers["PolicyLookupFunction"], "POL-10001", headers_for(conversation_id))

    assert answer.status == 200
    assert time.monotonic() - started >= 0.9


def test_unexpected_upstream_shape_is_502(handlers, fresh_reference, conversation_id):
    _fault(fresh_reference, path_prefix="/v1/policies", status=200, body='{"policy": 1}', times=1)

    answer = lookup(handlers["PolicyLookupFunction"], "POL-10001", headers_for(conversation_id))

    assert answer.status == 502
    assert answer.body["error"]["code"] == "UPSTREAM_BAD_RESPONSE"
    assert "status" in answer.body["error"]["details"]["fields"]


def test_upstream_failure_after_the_intent_leaves_pending_and_error_rows(
    handlers, fresh_reference, audit_rows, conversation_id
):
    _fault(fresh_reference, path_prefix="/v1/claims", method="POST", status=500, times=None)

    answer = post(
        handlers["ClaimCreateFunction"], "ClaimCreateFunction", claim_body(), _idem(conversation_id)
    )

    assert answer.status == 502
    intent, result = audit_rows(conversation_id)
    assert (intent["outcome"], result["outcome"]) == ("pending", "error")
    assert result["intent_id"] == intent["id"]


def test_database_down_is_503_for_a_lookup(
    make_entry, fresh_reference, dead_database, conversation_id
):
    entry = make_entry("policy_lookup", database_url=dead_database, db_pool_timeout_s=0.5)

    started = time.monotonic()
    answer = lookup(entry.handler, "POL-10001", headers_for(conversation_id))

    assert answer.status == 503
    assert answer.body["error"]["code"] == "AUDIT_UNAVAILABLE"
    assert time.monotonic() - started < 3.0


def test_database_down_files_nothing_upstream(
    make_entry, fresh_reference, dead_database, conversation_id
):
    entry = make_entry("claim_create", database_url=dead_database, db_pool_timeout_s=0.5)
    before = upstream_claim_count(fresh_reference)

    answer = post(entry.handler, "ClaimCreateFunction", claim_body(), _idem(conversation_id))

    assert answer.status == 503
    assert answer.body["error"]["code"] == "AUDIT_UNAVAILABLE"
    assert upstream_claim_count(fresh_reference) == before


def test_database_back_after_an_outage_recovers_without_a_new_container(
    make_entry, fresh_reference, pg_server, audit_rows, conversation_id, database_url
):
    """The pool is the same object before and after: it reconnects on its own."""
    import psycopg

    entry = make_entry("policy_lookup", db_pool_timeout_s=1.0)
    assert lookup(entry.handler, "POL-10001", headers_for(conversation_id)).status == 200
    # Kill the container's server connection, as an RDS Proxy idle timeout or failover would.
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'insurance-agent-api'"
        )

    answer = lookup(entry.handler, "POL-10001", headers_for(conversation_id))

    assert answer.status == 200
    assert [r["outcome"] for r in audit_rows(conversation_id)] == ["ok", "ok"]
