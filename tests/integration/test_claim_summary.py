"""POST /agent/claim-summary: the coverage position computed from real upstream data."""

from __future__ import annotations

from decimal import Decimal

from tests.integration.conftest import headers_for, post

FN = "ClaimSummaryFunction"


def test_policy_position_and_payable_estimate(
    handlers, fresh_reference, audit_rows, conversation_id
):
    answer = post(
        handlers[FN],
        FN,
        {"policy_number": "POL-10001", "claim_id": "CLM-000102"},
        headers_for(conversation_id),
    )

    assert answer.status == 200, answer.body
    body = answer.body
    assert body["policy_status"] == "active"
    assert (body["coverage_limit"], body["deductible"]) == ("50000.00", "500.00")
    # Seed: CLM-000101 paid 1,200.00; CLM-000102 open with 2,500.00 reserved.
    assert (body["paid_to_date"], body["reserved_to_date"]) == ("1200.00", "2500.00")
    assert body["remaining_limit"] == "46300.00"
    assert [c["claim_id"] for c in body["open_claims"]] == ["CLM-000102"]
    assert body["claim"]["estimated_payable"] == "2500.00"  # 3,000.00 claimed - 500.00
    assert "POL-10001" in body["summary"]
    assert "2,500.00 USD" in body["summary"]
    (row,) = audit_rows(conversation_id)
    assert (row["intent"], row["outcome"]) == ("claim_summary", "ok")
    assert Decimal(row["result"]["remaining_limit"]) == Decimal("46300.00")


def test_home_policy_with_several_perils(handlers, fresh_reference, conversation_id):
    answer = post(
        handlers[FN],
        FN,
        {"policy_number": "POL-20001", "claim_id": "CLM-000202"},
        headers_for(conversation_id, "cust-9001"),
    )

    assert answer.status == 200, answer.body
    assert answer.body["remaining_limit"] == "282000.00"  # 300,000 - 8,000 paid - 10,000 reserved
    # The windstorm coverage's own deductible applies (2,500.00, not the policy's 1,000.00),
    # as a coverage question answers it.
    assert answer.body["claim"]["deductible"] == "2500.00"
    assert answer.body["claim"]["estimated_payable"] == "9500.00"  # 12,000 - 2,500


def test_summary_without_a_claim_has_no_assessment(handlers, fresh_reference, conversation_id):
    answer = post(handlers[FN], FN, {"policy_number": "POL-10001"}, headers_for(conversation_id))

    assert answer.status == 200
    assert answer.body["claim"] is None


def test_unknown_claim_is_404(handlers, fresh_reference, audit_rows, conversation_id):
    answer = post(
        handlers[FN],
        FN,
        {"policy_number": "POL-10001", "claim_id": "CLM-999999"},
        headers_for(conversation_id),
    )

    assert answer.status == 404
    assert answer.body["error"]["code"] == "CLAIM_NOT_FOUND"
    assert audit_rows(conversation_id)[0]["error_code"] == "CLAIM_NOT_FOUND"


def test_claim_of_another_policy_is_404(handlers, fresh_reference, conversation_id):
    answer = post(
        handlers[FN],
        FN,
        {"policy_number": "POL-10001", "claim_id": "CLM-000202"},
        headers_for(conversation_id),
    )

    assert answer.status == 404
    assert answer.body["error"]["code"] == "CLAIM_NOT_FOUND"


def test_another_customers_policy_is_denied(handlers, fresh_reference, audit_rows, conversation_id):
    answer = post(
        handlers[FN], FN, {"policy_number": "POL-20001"}, headers_for(conversation_id, "cust-7788")
    )

    assert answer.status == 404
    assert audit_rows(conversation_id)[0]["outcome"] == "denied"
