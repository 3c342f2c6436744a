"""Another insurer's numbering, end to end. Not collected on its own (no test_ prefix): run by
test_other_numbering.py in a subprocess whose environment sets the identifier patterns
(POLICY_NUMBER_PATTERN=^P[0-9]{8}$, CUSTOMER_ID_PATTERN=^C[0-9]{6}$,
CLAIM_ID_PATTERN=^CL[0-9]{8}$) and seeds the reference service with that numbering
(REFERENCE_NUMBERING=insurer), so the models read them at import as a cold start does."""

from __future__ import annotations

import json
import os
import re
import uuid
from datetime import UTC, datetime, timedelta

from devstack.dev_identity import customer_identity
from devstack.events import ClientContext, LambdaContext
from devstack.jwt_authorizer import gateway_claims
from tests.integration.conftest import claim_body, headers_for, lookup, post

ROUTES = {"coverage": "POST /agent/coverage-check"}


def test_the_environment_sets_another_numbering():
    from insurance_agent import models

    assert os.environ["REFERENCE_NUMBERING"] == "insurer"
    assert models.POLICY_NUMBER_PATTERN == "^P[0-9]{8}$"
    assert models.CUSTOMER_ID_PATTERN == "^C[0-9]{6}$"
    assert models.CLAIM_ID_PATTERN == "^CL[0-9]{8}$"


def test_a_policy_is_looked_up_by_the_insurers_number(handlers, fresh_reference, conversation_id):
    answer = lookup(
        handlers["PolicyLookupFunction"], "P00010001", headers_for(conversation_id, "C007788")
    )
    assert answer.status == 200, answer.body
    assert (answer.body["policy_number"], answer.body["customer_id"]) == ("P00010001", "C007788")


def test_todays_numbering_is_refused_at_the_edge(handlers, fresh_reference, conversation_id):
    answer = lookup(
        handlers["PolicyLookupFunction"], "POL-10001", headers_for(conversation_id, "C007788")
    )
    assert answer.status == 422
    assert answer.body["error"]["code"] == "VALIDATION_FAILED"
    other = lookup(
        handlers["PolicyLookupFunction"], "P00010001", headers_for(conversation_id, "cust-7788")
    )
    assert other.status == 422  # the X-Customer-Id header is checked by the same rule


def test_a_token_naming_a_customer_in_todays_numbering_is_refused(
    handlers, fresh_reference, conversation_id
):
    answer = lookup(
        handlers["PolicyLookupFunction"],
        "P00010001",
        headers_for(conversation_id, None),
        jwt_claims=gateway_claims(customer_identity("cust-7788")),
    )
    assert answer.status == 403
    ok = lookup(
        handlers["PolicyLookupFunction"],
        "P00010001",
        headers_for(conversation_id, None),
        jwt_claims=gateway_claims(customer_identity("C007788")),
    )
    assert ok.status == 200, ok.body


def test_a_claim_is_filed_summarized_and_decided_on_in_the_insurers_numbering(
    handlers, fresh_reference, conversation_id
):
    loss_date = (datetime.now(UTC).date() - timedelta(days=2)).isoformat()
    filed = post(
        handlers["ClaimCreateFunction"],
        "ClaimCreateFunction",
        claim_body(policy_number="P00010001", loss_date=loss_date),
        headers_for(conversation_id, "C007788", idempotency_key=f"k-{uuid.uuid4().hex}"),
    )
    assert filed.status == 201, filed.body
    assert re.fullmatch(r"CL[0-9]{8}", filed.body["claim_id"])
    summary = post(
        handlers["ClaimSummaryFunction"],
        "ClaimSummaryFunction",
        {
            "policy_number": "P00030001",
            "claim_id": "CL00000302",
            "include_policyholder": True,
        },
        headers_for(conversation_id + "-5150", "C005150"),  # one customer per conversation
    )
    assert summary.status == 200, summary.body
    assert [p["policy_number"] for p in summary.body["policyholder"]["other_policies"]] == [
        "P00030002",
        "P00030003",
        "P00030004",
    ]
    covered = handlers["ClaimSummaryFunction"](
        {
            "conversation_id": conversation_id + "-5150",
            "customer_id": "C005150",
            "policy_number": "P00030001",
            "loss_date": loss_date,
            "loss_type": "windstorm",
        },
        LambdaContext(
            function_name="ClaimSummaryFunction",
            client_context=ClientContext(
                custom={
                    "insuranceAgentDoor": "direct",
                    "insuranceAgentOperation": "coverage_check",
                }
            ),
        ),
    )
    assert covered["covered"] is True
    assert covered["deductible"] == "5000.00"
    decided = handlers["ClaimCreateFunction"](
        {
            "conversation_id": conversation_id + "-5150",
            "customer_id": "C005150",
            "claim_id": "CL00000302",
            "policy_number": "P00030001",
            "decision": "refer_to_adjuster",
            "reasons": ["sub-limit nearly used"],
            "confidence": "0.8",
            "decided_by": "numbering-test",
            "relied_on": [summary.body["audit_id"], covered["audit_id"]],
        },
        LambdaContext(
            function_name="ClaimCreateFunction",
            client_context=ClientContext(
                custom={
                    "insuranceAgentDoor": "direct",
                    "insuranceAgentOperation": "triage_decision",
                }
            ),
        ),
    )
    assert json.loads(json.dumps(decided))["claim_id"] == "CL00000302"
