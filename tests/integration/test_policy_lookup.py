"""GET /policies/{policy_number} through the real handler, real HTTP upstream, real Postgres."""

from __future__ import annotations

import pytest

from tests.integration.conftest import headers_for, lookup


def test_read_back_flow_records_the_lookup_in_the_conversation_trail(
    handlers, fresh_reference, audit_rows
):
    answer = lookup(
        handlers["PolicyLookupFunction"], "POL-10001", headers_for("conv-001", "cust-7788")
    )

    assert answer.status == 200
    assert answer.body["policy_number"] == "POL-10001"
    assert answer.body["status"] == "active"
    assert answer.body["totals"] == {"aggregate_limit": "50000.00", "deductible": "500.00"}
    rows = [r for r in audit_rows("conv-001") if r["request_id"] == answer.headers["x-request-id"]]
    assert len(rows) == 1
    row = rows[0]
    assert row["intent"] == "policy_lookup"
    assert row["outcome"] == "ok"
    assert row["customer_id"] == "cust-7788"
    assert row["result"]["status"] == "active"
    assert row["payload"] == {"policy_number": "POL-10001"}
    assert row["function_name"] == "PolicyLookupFunction"
    assert row["created_at"].tzinfo is not None


def test_unknown_policy_is_404_and_audited_as_error(
    handlers, fresh_reference, audit_rows, conversation_id
):
    answer = lookup(handlers["PolicyLookupFunction"], "POL-99999", headers_for(conversation_id))

    assert answer.status == 404
    assert answer.body["error"]["code"] == "POLICY_NOT_FOUND"
    assert answer.body["error"]["request_id"] == answer.headers["x-request-id"]
    (row,) = audit_rows(conversation_id)
    assert (row["outcome"], row["error_code"]) == ("error", "POLICY_NOT_FOUND")


def test_another_customers_policy_answers_like_unknown_and_is_audited_denied(
    handlers, fresh_reference, audit_rows, conversation_id
):
    answer = lookup(
        handlers["PolicyLookupFunction"], "POL-20001", headers_for(conversation_id, "cust-7788")
    )
    unknown = lookup(
        handlers["PolicyLookupFunction"], "POL-29999", headers_for(conversation_id, "cust-7788")
    )

    assert answer.status == unknown.status == 404
    assert answer.body["error"]["code"] == unknown.body["error"]["code"]
    assert answer.body["error"]["message"].replace("20001", "N") == unknown.body["error"][
        "message"
    ].replace("29999", "N")
    outcomes = [r["outcome"] for r in audit_rows(conversation_id)]
    assert outcomes == ["denied", "error"]


@pytest.mark.parametrize("bad", ["pol-10001", "POL-1'; DROP TABLE x;--", "POL-"])
def test_malformed_policy_number_is_422_naming_the_field(
    handlers, fresh_reference, audit_rows, conversation_id, bad
):
    answer = lookup(handlers["PolicyLookupFunction"], bad, headers_for(conversation_id))

    assert answer.status == 422
    assert answer.body["error"]["code"] == "VALIDATION_FAILED"
    assert "policy_number" in answer.body["error"]["message"]
    (row,) = audit_rows(conversation_id)
    assert row["outcome"] == "error"
    assert row["error_code"] == "VALIDATION_FAILED"


def test_missing_headers_are_400_naming_them(handlers, fresh_reference):
    answer = lookup(handlers["PolicyLookupFunction"], "POL-10001", {})

    assert answer.status == 400
    assert answer.body["error"]["code"] == "MISSING_HEADER"
    assert "X-Conversation-Id" in answer.body["error"]["message"]
    assert "X-Customer-Id" in answer.body["error"]["message"]
