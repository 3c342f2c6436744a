"""Bedrock Agent action-group events through the real handlers: Bedrock's response format,
errors as status codes with our error body, caller ids from session attributes in the audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devstack.bedrock_events import bedrock_event, response_json
from devstack.events import LambdaContext
from tests.conftest import upstream_claim_count
from tests.integration.conftest import claim_body

EVENTS = Path(__file__).resolve().parents[2] / "events"


def session(conversation_id: str, customer_id: str = "cust-7788") -> dict[str, str]:
    return {"conversation_id": conversation_id, "customer_id": customer_id}


def invoke(handler: Any, event: dict[str, Any], function_name: str) -> dict[str, Any]:
    response: dict[str, Any] = handler(event, LambdaContext(function_name=function_name))
    return response


def test_policy_lookup_answers_in_bedrock_format_and_audits_the_session_ids(
    handlers, fresh_reference, audit_rows, conversation_id
):
    attributes = session(conversation_id)
    event = bedrock_event(
        "/policies/{policy_number}",
        "GET",
        parameters={"policy_number": "POL-10001"},
        session_attributes=attributes,
    )
    event["promptSessionAttributes"] = {"today": "2026-11-25"}

    response = invoke(handlers["PolicyLookupFunction"], event, "PolicyLookupFunction")

    assert response["messageVersion"] == "1.0"
    assert response["response"]["actionGroup"] == "insurance-tools"
    assert response["response"]["apiPath"] == "/policies/{policy_number}"
    assert response["response"]["httpMethod"] == "GET"
    assert response["response"]["httpStatusCode"] == 200
    assert isinstance(response["response"]["responseBody"]["application/json"]["body"], str)
    assert response_json(response)["status"] == "active"
    assert response["sessionAttributes"] == attributes
    assert response["promptSessionAttributes"] == {"today": "2026-11-25"}
    (row,) = audit_rows(conversation_id)
    assert row["channel"] == "bedrock"
    assert (row["intent"], row["outcome"]) == ("policy_lookup", "ok")
    assert row["customer_id"] == "cust-7788"
    assert row["principal"] == "bedrock-agent:AGENT12345/TSTALIASID"


def test_claim_create_answers_201_and_a_retried_action_files_once(
    handlers, fresh_reference, audit_rows, conversation_id
):
    event = bedrock_event(
        "/claims", "POST", body=claim_body(), session_attributes=session(conversation_id)
    )
    before = upstream_claim_count(fresh_reference)

    first = invoke(handlers["ClaimCreateFunction"], event, "ClaimCreateFunction")
    again = invoke(handlers["ClaimCreateFunction"], event, "ClaimCreateFunction")

    assert first["response"]["httpStatusCode"] == again["response"]["httpStatusCode"] == 201
    assert response_json(first)["claim_id"] == response_json(again)["claim_id"]
    assert response_json(first)["amount_claimed"] == {"amount": "1800.00", "currency": "USD"}
    assert upstream_claim_count(fresh_reference) == before + 1
    rows = audit_rows(conversation_id)
    assert {r["channel"] for r in rows} == {"bedrock"}
    keys = {r["idempotency_key"] for r in rows}
    assert len(keys) == 1
    assert next(iter(keys)).startswith("bedrock-")


def test_object_values_in_javas_map_notation_are_understood(
    handlers, fresh_reference, conversation_id
):
    event = bedrock_event(
        "/claims", "POST", body=claim_body(), session_attributes=session(conversation_id)
    )
    for prop in event["requestBody"]["content"]["application/json"]["properties"]:
        if prop["name"] == "amount_claimed":
            prop["value"] = "{amount=950.00, currency=USD}"

    response = invoke(handlers["ClaimCreateFunction"], event, "ClaimCreateFunction")

    assert response["response"]["httpStatusCode"] == 201, response_json(response)
    assert response_json(response)["amount_claimed"] == {"amount": "950.00", "currency": "USD"}


def test_session_attributes_decide_the_customer_not_the_model(
    handlers, fresh_reference, audit_rows, conversation_id
):
    # The model names another customer's policy and sneaks in a customer id: refused as if
    # the policy did not exist, audited for the session's customer.
    event = bedrock_event(
        "/agent/claim-summary",
        "POST",
        body={"policy_number": "POL-20001", "customer_id": "cust-9001"},
        session_attributes=session(conversation_id, "cust-7788"),
    )

    response = invoke(handlers["ClaimSummaryFunction"], event, "ClaimSummaryFunction")

    assert response["response"]["httpStatusCode"] == 404
    assert response_json(response)["error"]["code"] == "POLICY_NOT_FOUND"
    (row,) = audit_rows(conversation_id)
    assert (row["customer_id"], row["outcome"]) == ("cust-7788", "denied")


@pytest.mark.parametrize(
    ("policy_number", "status", "code"),
    [("POL-10002", 422, "POLICY_NOT_IN_FORCE"), ("POL-99999", 404, "POLICY_NOT_FOUND")],
)
def test_business_errors_map_to_the_status_code_with_our_error_body(
    handlers, fresh_reference, audit_rows, conversation_id, policy_number, status, code
):
    loss = claim_body(policy_number=policy_number)
    event = bedrock_event("/claims", "POST", body=loss, session_attributes=session(conversation_id))

    response = invoke(handlers["ClaimCreateFunction"], event, "ClaimCreateFunction")

    assert response["response"]["httpStatusCode"] == status
    error = response_json(response)["error"]
    assert error["code"] == code
    assert error["message"]
    assert "Traceback" not in json.dumps(response)
    (row,) = audit_rows(conversation_id)
    assert (row["channel"], row["error_code"]) == ("bedrock", code)


def test_missing_customer_session_attribute_is_a_validation_failure_naming_it(
    handlers, fresh_reference, audit_rows, conversation_id
):
    event = bedrock_event(
        "/policies/{policy_number}",
        "GET",
        parameters={"policy_number": "POL-10001"},
        session_attributes={"conversation_id": conversation_id},
    )

    response = invoke(handlers["PolicyLookupFunction"], event, "PolicyLookupFunction")

    assert response["response"]["httpStatusCode"] == 422
    error = response_json(response)["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert "customer_id" in error["message"]
    (row,) = audit_rows(conversation_id)
    assert row["outcome"] == "error"


def test_an_api_path_the_function_does_not_serve_is_404_and_audited(
    handlers, fresh_reference, audit_rows, conversation_id
):
    event = bedrock_event(
        "/claims", "POST", body=claim_body(), session_attributes=session(conversation_id)
    )

    response = invoke(handlers["PolicyLookupFunction"], event, "PolicyLookupFunction")

    assert response["response"]["httpStatusCode"] == 404
    assert response_json(response)["error"]["code"] == "ROUTE_NOT_FOUND"
    assert response["response"]["apiPath"] == "/claims"
    rows = audit_rows(channel="bedrock", error_code="ROUTE_NOT_FOUND")
    assert rows
    assert rows[-1]["payload"] == {"api_path": "/claims", "http_method": "POST"}


def test_database_down_is_503_in_bedrock_format_and_files_nothing(
    make_entry, fresh_reference, dead_database, conversation_id
):
    entry = make_entry("claim_create", database_url=dead_database, db_pool_timeout_s=0.5)
    event = bedrock_event(
        "/claims", "POST", body=claim_body(), session_attributes=session(conversation_id)
    )
    before = upstream_claim_count(fresh_reference)

    response = invoke(entry.handler, event, "ClaimCreateFunction")

    assert response["response"]["httpStatusCode"] == 503
    assert response_json(response)["error"]["code"] == "AUDIT_UNAVAILABLE"
    assert upstream_claim_count(fresh_reference) == before


@pytest.mark.parametrize(
    ("file", "function", "status"),
    [
        ("bedrock_policy_lookup.json", "PolicyLookupFunction", 200),
        ("bedrock_claim_create.json", "ClaimCreateFunction", 201),
        ("bedrock_claim_summary.json", "ClaimSummaryFunction", 200),
    ],
)
def test_committed_bedrock_events_are_answered_by_their_function(
    handlers, fresh_reference, file, function, status
):
    event = json.loads((EVENTS / file).read_text())
    event["sessionId"] = f"{event['sessionId']}-{function}-test"  # a fresh idempotency key
    for prop in (
        (event.get("requestBody") or {})
        .get("content", {})
        .get("application/json", {"properties": []})["properties"]
    ):
        if prop["name"] == "loss_date":
            # The file's date is fixed; keep it inside the seeded policy's term.
            prop["value"] = claim_body()["loss_date"]

    response = invoke(handlers[function], event, function)

    assert response["response"]["httpStatusCode"] == status, response_json(response)
