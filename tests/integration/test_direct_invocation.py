"""Direct invocation (Step Functions, scripts): the same input the HTTP path carries, the
same answer model, and errors raised under their class names (Lambda's errorType)."""

from __future__ import annotations

import pytest

from devstack.events import LambdaContext
from tests.conftest import upstream_claim_count
from tests.integration.conftest import claim_body, headers_for, lookup, post


def _invoke(handler, task, name):
    return handler(task, LambdaContext(function_name=name))


def test_policy_lookup_direct_equals_http(handlers, fresh_reference, audit_rows, conversation_id):
    task = {
        "conversation_id": conversation_id,
        "customer_id": "cust-7788",
        "policy_number": "POL-10001",
    }

    direct = _invoke(handlers["PolicyLookupFunction"], task, "PolicyLookupFunction")
    http = lookup(handlers["PolicyLookupFunction"], "POL-10001", headers_for(conversation_id))

    # The same answer, each naming its own audit row.
    assert direct.pop("audit_id") != http.body.pop("audit_id")
    assert direct == http.body
    rows = audit_rows(conversation_id)
    assert [(r["channel"], r["outcome"]) for r in rows] == [("direct", "ok"), ("http", "ok")]
    assert rows[0]["principal"] == "iam-invoke"


def test_claim_create_direct(handlers, reference_without_dedup, audit_rows, conversation_id):
    fresh_reference = reference_without_dedup  # one claim: our idempotency layer, not upstream's
    task = {
        "conversation_id": conversation_id,
        "customer_id": "cust-7788",
        "idempotency_key": f"sfn-{conversation_id}",
        **claim_body(),
    }
    before = upstream_claim_count(fresh_reference)

    result = _invoke(handlers["ClaimCreateFunction"], task, "ClaimCreateFunction")
    replay = _invoke(handlers["ClaimCreateFunction"], task, "ClaimCreateFunction")

    assert result["claim_id"] == replay["claim_id"]
    assert result["status"] == "submitted"
    assert upstream_claim_count(fresh_reference) == before + 1
    # The retry is answered from the idempotency record: the filing is audited once (intent
    # and the result naming it), the replay gets its own ok row naming no intent.
    pending, filed, replayed = audit_rows(conversation_id)
    assert [r["outcome"] for r in (pending, filed, replayed)] == ["pending", "ok", "ok"]
    assert filed["intent_id"] == pending["id"]
    assert replayed["intent_id"] is None
    assert replayed["result"]["idempotent_replay"] is True
    assert "idempotent_replay" not in filed["result"]


def test_claim_summary_direct_equals_http(handlers, fresh_reference, conversation_id):
    body = {"policy_number": "POL-10001", "claim_id": "CLM-000102"}
    task = {"conversation_id": conversation_id, "customer_id": "cust-7788", **body}

    direct = _invoke(handlers["ClaimSummaryFunction"], task, "ClaimSummaryFunction")
    http = post(
        handlers["ClaimSummaryFunction"], "ClaimSummaryFunction", body, headers_for(conversation_id)
    )

    per_call = ("as_of", "audit_id")  # when it was answered, and its own audit row
    assert {k: v for k, v in direct.items() if k not in per_call} == {
        k: v for k, v in http.body.items() if k not in per_call
    }


def test_business_errors_are_raised_by_class_name(handlers, fresh_reference, conversation_id):
    task = {
        "conversation_id": conversation_id,
        "customer_id": "cust-7788",
        "idempotency_key": f"sfn-lapsed-{conversation_id}",
        **claim_body(policy_number="POL-10002"),
    }

    with pytest.raises(Exception) as raised:
        _invoke(handlers["ClaimCreateFunction"], task, "ClaimCreateFunction")

    assert type(raised.value).__name__ == "PolicyNotInForce"
    assert raised.value.code == "POLICY_NOT_IN_FORCE"


def test_invalid_task_is_validation_failed_and_audited(
    handlers, fresh_reference, audit_rows, conversation_id
):
    task = {
        "conversation_id": conversation_id,
        "customer_id": "cust-7788",
        "policy_number": "not-a-policy",
        "extra": 1,
    }

    with pytest.raises(Exception) as raised:
        _invoke(handlers["PolicyLookupFunction"], task, "PolicyLookupFunction")

    assert type(raised.value).__name__ == "ValidationFailed"
    assert "policy_number" in str(raised.value)
    (row,) = audit_rows(conversation_id)
    assert (row["channel"], row["outcome"], row["error_code"]) == (
        "direct",
        "error",
        "VALIDATION_FAILED",
    )
