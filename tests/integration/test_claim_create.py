"""POST /claims: checked against the policy, intent audited before filing, result after."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import upstream_claim_count
from tests.integration.conftest import claim_body, headers_for, post

FN = "ClaimCreateFunction"


def _today():
    return datetime.now(UTC).date()


def test_claim_is_filed_upstream_with_intent_and_result_rows(
    handlers, fresh_reference, audit_rows, conversation_id
):
    before = upstream_claim_count(fresh_reference)
    answer = post(
        handlers[FN],
        FN,
        claim_body(),
        headers_for(conversation_id, **{"Idempotency-Key": f"key-{conversation_id}"}),
    )

    assert answer.status == 201, answer.body
    assert answer.body["claim_id"].startswith("CLM-")
    assert answer.body["status"] == "submitted"
    assert answer.body["amount_claimed"] == {"amount": "1800.00", "currency": "USD"}
    assert datetime.fromisoformat(answer.body["created_at"]).tzinfo is not None
    assert upstream_claim_count(fresh_reference) == before + 1

    intent, result = audit_rows(conversation_id)
    assert (intent["intent"], intent["outcome"], intent["result"]) == (
        "claim_create",
        "pending",
        None,
    )
    assert (result["outcome"], result["intent_id"]) == ("ok", intent["id"])
    assert result["result"]["claim_id"] == answer.body["claim_id"]
    assert result["idempotency_key"] == f"key-{conversation_id}"
    assert intent["created_at"] <= result["created_at"]


def test_same_idempotency_key_files_one_claim(handlers, reference_without_dedup, conversation_id):
    """Upstream files every request here: one claim means our idempotency layer held."""
    fresh_reference = reference_without_dedup
    headers = headers_for(conversation_id, **{"Idempotency-Key": f"retry-{conversation_id}"})
    before = upstream_claim_count(fresh_reference)

    first = post(handlers[FN], FN, claim_body(), headers)
    second = post(handlers[FN], FN, claim_body(), headers)

    assert first.status == 201
    assert second.status == 201
    assert second.body["claim_id"] == first.body["claim_id"]
    assert upstream_claim_count(fresh_reference) == before + 1


def test_same_key_with_another_claim_is_a_conflict(handlers, fresh_reference, conversation_id):
    headers = headers_for(conversation_id, **{"Idempotency-Key": f"clash-{conversation_id}"})
    post(handlers[FN], FN, claim_body(), headers)

    answer = post(
        handlers[FN], FN, claim_body(amount_claimed={"amount": "9.99", "currency": "USD"}), headers
    )

    assert answer.status == 409
    assert answer.body["error"]["code"] == "IDEMPOTENCY_CONFLICT"


# A loss date in the future, computed when the test runs, not when it is collected (a run that
# crosses midnight between the two would send "today"), and two days ahead so that the
# function's own clock passing midnight during the request cannot make it today either.
FUTURE = "<two days from now>"


def _future_loss_date() -> str:
    return (_today() + timedelta(days=2)).isoformat()


REFUSALS = [
    pytest.param(
        {"policy_number": "POL-99999"}, 404, "POLICY_NOT_FOUND", "error", id="unknown-policy"
    ),
    pytest.param({"policy_number": "POL-10002"}, 422, "POLICY_NOT_IN_FORCE", "denied", id="lapsed"),
    pytest.param(
        {"policy_number": "POL-10003", "loss_type": "fire"},
        422,
        "POLICY_NOT_IN_FORCE",
        "denied",
        id="expired",
    ),
    pytest.param(
        {"loss_type": "flood"}, 422, "PERIL_NOT_COVERED", "denied", id="peril-not-covered"
    ),
    pytest.param(
        {"amount_claimed": {"amount": "0.00", "currency": "USD"}},
        422,
        "VALIDATION_FAILED",
        "error",
        id="zero-amount",
    ),
    pytest.param(
        {"amount_claimed": {"amount": "-5.00", "currency": "USD"}},
        422,
        "VALIDATION_FAILED",
        "error",
        id="negative-amount",
    ),
    pytest.param(
        {"amount_claimed": {"amount": "100.00", "currency": "EUR"}},
        422,
        "VALIDATION_FAILED",
        "error",
        id="other-currency",
    ),
    pytest.param(
        {"loss_date": FUTURE},
        422,
        "VALIDATION_FAILED",
        "error",
        id="future-loss-date",
    ),
    pytest.param(
        {"amount_claimed": {"amount": "12.345", "currency": "USD"}},
        422,
        "VALIDATION_FAILED",
        "error",
        id="sub-cent-amount",
    ),
    pytest.param(
        {"amount_claimed": {"amount": 1e400, "currency": "USD"}},
        422,
        "VALIDATION_FAILED",
        "error",
        id="infinite-amount",
    ),
]


@pytest.mark.parametrize(("override", "status", "code", "outcome"), REFUSALS)
def test_refused_claims_are_not_filed_and_are_audited(
    handlers, fresh_reference, audit_rows, conversation_id, override, status, code, outcome
):
    before = upstream_claim_count(fresh_reference)
    if override.get("loss_date") == FUTURE:
        override = override | {"loss_date": _future_loss_date()}
    body = claim_body(**override)
    raw = None
    if override.get("amount_claimed", {}).get("amount") == 1e400:
        # JSON allows 1e400; Python reads it as infinity. Sent raw, not through json.dumps.
        raw = json.dumps(body).replace('"amount": Infinity', '"amount": 1e400')

    answer = post(
        handlers[FN],
        FN,
        raw or body,
        headers_for(conversation_id, **{"Idempotency-Key": f"refuse-{conversation_id}"}),
    )

    assert answer.status == status, answer.body
    assert answer.body["error"]["code"] == code
    assert answer.body["error"]["request_id"] == answer.headers["x-request-id"]
    assert upstream_claim_count(fresh_reference) == before
    rows = audit_rows(conversation_id)
    assert [(r["outcome"], r["error_code"]) for r in rows] == [(outcome, code)]


def test_loss_before_a_lapse_is_still_covered(handlers, fresh_reference, conversation_id):
    # POL-10002 lapsed 30 days ago; a loss 40 days ago happened while it was in force.
    loss_date = (_today() - timedelta(days=40)).isoformat()
    answer = post(
        handlers[FN],
        FN,
        claim_body(policy_number="POL-10002", loss_date=loss_date),
        headers_for(conversation_id, **{"Idempotency-Key": f"lapse-{conversation_id}"}),
    )

    assert answer.status == 201, answer.body


def test_missing_idempotency_key_is_400(handlers, fresh_reference, audit_rows, conversation_id):
    answer = post(handlers[FN], FN, claim_body(), headers_for(conversation_id))

    assert answer.status == 400
    assert answer.body["error"]["code"] == "MISSING_HEADER"
    assert "Idempotency-Key" in answer.body["error"]["message"]
    assert [r["error_code"] for r in audit_rows(conversation_id)] == ["MISSING_HEADER"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"policy_number": "POL-10001"}', "loss_date"),
        ("{not json", "body"),
        ('{"policy_number":"POL-10001","loss_date":"yesterday"}', "loss_date"),
        ("[]", "body"),
    ],
)
def test_bad_bodies_are_422_naming_the_field(
    handlers, fresh_reference, audit_rows, conversation_id, raw, field
):
    answer = post(
        handlers[FN],
        FN,
        raw,
        headers_for(conversation_id, **{"Idempotency-Key": f"bad-body-{conversation_id}"}),
    )

    assert answer.status == 422
    assert answer.body["error"]["code"] == "VALIDATION_FAILED"
    fields = [e["field"] for e in answer.body["error"]["details"]["errors"]]
    assert any(field in f for f in fields), fields
    (row,) = audit_rows(conversation_id)
    assert row["outcome"] == "error"
    assert row["payload"]["path"] == "/claims"
