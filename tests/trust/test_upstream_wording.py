"""Upstream's words never reach a caller, and an unknown policy cannot be told from another
customer's (issue 11, items 6 and 11), on every door, over the real reference service."""

from __future__ import annotations

import json
import logging

import pytest
from insurance_agent.errors import PolicyNotFound

from devstack.bedrock_events import bedrock_event, response_json
from devstack.events import LambdaContext
from tests.integration.conftest import claim_body, headers_for, lookup, post

FN = "ClaimCreateFunction"
EMAIL = "pat.doe@example.org"


def _fault(reference, **rule):
    with reference.admin() as admin:
        admin.post("/_admin/faults", json=rule).raise_for_status()


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_an_upstream_refusal_echoing_our_key_and_an_email_reaches_the_caller_as_our_words(
    handlers, fresh_reference, audit_rows, conversation_id, caplog, status
):
    echo = f"bad input from Bearer {fresh_reference.api_key} for {EMAIL}: try again"
    _fault(
        fresh_reference,
        path_prefix="/v1/claims",
        method="POST",
        status=status,
        body=json.dumps({"detail": echo, "message": echo}),
    )
    headers = headers_for(conversation_id, **{"Idempotency-Key": f"echo-{conversation_id}"})

    with caplog.at_level(logging.INFO):
        answer = post(handlers[FN], FN, claim_body(), headers)

    assert answer.status in (404, 409, 422)
    sent = json.dumps(answer.body)
    assert fresh_reference.api_key not in sent
    assert EMAIL not in sent
    assert "try again" not in sent  # none of upstream's wording, not only the secrets
    assert answer.body["error"]["details"].get("upstream_status", 404) == status
    stored = json.dumps([r["result"] for r in audit_rows(conversation_id)], default=str)
    assert fresh_reference.api_key not in stored
    assert EMAIL not in stored
    # Operators still learn why, redacted.
    assert "upstream refused a request" in caplog.text
    assert fresh_reference.api_key not in caplog.text
    assert EMAIL not in caplog.text


def _same(a: dict, b: dict, a_policy: str, b_policy: str) -> None:
    assert a["code"] == b["code"] == "POLICY_NOT_FOUND"
    assert a["message"].replace(a_policy, "P") == b["message"].replace(b_policy, "P")
    assert a["details"] == b["details"]


def test_http_unknown_and_foreign_policies_answer_alike(
    handlers, fresh_reference, audit_rows, conversation_id
):
    # Upstream words its 404 its own way: it must not make the two answers differ.
    _fault(
        fresh_reference,
        path_prefix="/v1/policies/POL-99999",
        status=404,
        body=json.dumps({"detail": "No record POL-99999 in ledger EU-3"}),
    )
    handler = handlers["PolicyLookupFunction"]
    unknown = lookup(handler, "POL-99999", headers_for(conversation_id))
    foreign = lookup(handler, "POL-20001", headers_for(conversation_id))  # cust-9001's

    assert unknown.status == foreign.status == 404
    _same(unknown.body["error"], foreign.body["error"], "POL-99999", "POL-20001")
    assert "ledger" not in json.dumps(unknown.body)
    assert [r["outcome"] for r in audit_rows(conversation_id)] == ["error", "denied"]


def test_direct_callers_see_one_error_type_for_unknown_and_foreign_policies(
    handlers, fresh_reference, audit_rows, conversation_id
):
    handler = handlers["PolicyLookupFunction"]
    raised = []
    for policy in ("POL-99999", "POL-20001"):
        task = {
            "conversation_id": conversation_id,
            "customer_id": "cust-7788",
            "policy_number": policy,
        }
        with pytest.raises(PolicyNotFound) as caught:
            handler(task, LambdaContext(function_name="PolicyLookupFunction"))
        raised.append(caught.value)

    unknown, foreign = raised
    # Lambda reports type(exc).__name__ as errorType: the class itself must be the same.
    assert type(unknown) is type(foreign) is PolicyNotFound
    assert unknown.message.replace("POL-99999", "P") == foreign.message.replace("POL-20001", "P")
    assert [r["outcome"] for r in audit_rows(conversation_id)] == ["error", "denied"]


def test_bedrock_unknown_and_foreign_policies_answer_alike(
    handlers, fresh_reference, conversation_id
):
    handler = handlers["PolicyLookupFunction"]
    answers = {}
    for policy in ("POL-99999", "POL-20001"):
        event = bedrock_event(
            "/policies/{policy_number}",
            "GET",
            parameters={"policy_number": policy},
            session_attributes={"conversation_id": conversation_id, "customer_id": "cust-7788"},
        )
        response = handler(event, LambdaContext(function_name="PolicyLookupFunction"))
        answers[policy] = (response["response"]["httpStatusCode"], response_json(response))

    (s1, unknown), (s2, foreign) = answers["POL-99999"], answers["POL-20001"]
    assert s1 == s2 == 404
    _same(unknown["error"], foreign["error"], "POL-99999", "POL-20001")


def test_claim_against_a_foreign_policy_answers_like_an_unknown_one(
    handlers, fresh_reference, conversation_id
):
    answers = []
    for policy in ("POL-99999", "POL-20001"):
        headers = headers_for(conversation_id, **{"Idempotency-Key": f"{policy}-{conversation_id}"})
        answers.append(post(handlers[FN], FN, claim_body(policy_number=policy), headers))

    unknown, foreign = answers
    assert unknown.status == foreign.status == 404
    _same(unknown.body["error"], foreign.body["error"], "POL-99999", "POL-20001")
