"""The use cases of issue 13 through every door of the real handlers, against the reference
service over HTTP and real Postgres: the policyholder in a claim summary, "am I covered?", and
triage decisions. Each door's answer and audit row is checked against the HTTP door's."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from devstack.dev_identity import agent_identity, customer_identity
from devstack.events import ClientContext, LambdaContext
from devstack.jwt_authorizer import gateway_claims
from tests.conftest import call_http
from tests.integration.conftest import claim_body, headers_for, post
from tests.integration.test_mcp_door import bearer, call_tool

Handler = Callable[[Any, Any], Any]
COVERAGE_ROUTE = "POST /agent/coverage-check"
DECISION_ROUTE = "POST /claims/{claim_id}/decisions"
VOLATILE = ("audit_id", "as_of", "recorded_at")


@pytest.fixture(scope="module")
def interceptor(function_env: dict[str, str]) -> Handler:
    """The AgentCore Gateway interceptor function, as tests/integration/test_mcp_door.py uses."""
    from insurance_agent.entry import interceptor_handler

    return interceptor_handler()


def day(offset: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=offset)).isoformat()


def direct(handler: Handler, function: str, task: dict[str, Any], operation: str | None = None):
    custom = {"insuranceAgentDoor": "direct"}
    if operation is not None:
        custom["insuranceAgentOperation"] = operation
    context = LambdaContext(function_name=function, client_context=ClientContext(custom=custom))
    return handler(task, context)


def http(handler: Handler, function: str, route: str, path: str, body: Any, headers, **kw):
    return call_http(
        handler,
        "POST",
        path,
        route_key=route,
        headers=headers,
        body=json.dumps(body),
        function_name=function,
        **kw,
    )


def stable(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k not in VOLATILE}


# -- 1. the policyholder in a claim summary ------------------------------------------------------


def test_the_policyholder_and_their_history_through_every_door(
    handlers, interceptor, fresh_reference, audit_rows, conversation_id
):
    handler = handlers["ClaimSummaryFunction"]
    ask = {"policy_number": "POL-30001", "include_policyholder": True}
    over_http = post(
        handler,
        "ClaimSummaryFunction",
        ask,
        headers_for(conversation_id + "-http", customer_id="cust-5150"),
    )
    assert over_http.status == 200, over_http.body
    holder = over_http.body["policyholder"]
    assert holder == {
        "customer_id": "cust-5150",
        "full_name": "Lucía Ortega",
        "preferred_contact_channel": "phone",
        "preferred_language": "es",
        "other_policies": [
            {"policy_number": "POL-30002", "product_line": "auto", "status": "active"},
            {"policy_number": "POL-30003", "product_line": "auto", "status": "expired"},
            {"policy_number": "POL-30004", "product_line": "umbrella", "status": "active"},
        ],
        "claims_history": {
            "total": 4,
            "open": 1,
            "paid": 2,
            "rejected_or_withdrawn": 1,
            "paid_totals": [{"amount": "16200.00", "currency": "USD"}],  # 12,500 + 3,700
        },
    }
    task = {"conversation_id": conversation_id + "-direct", "customer_id": "cust-5150", **ask}
    over_direct = direct(handler, "ClaimSummaryFunction", task)
    over_mcp = call_tool(
        interceptor,
        handler,
        "ClaimSummaryFunction",
        {"conversation_id": conversation_id + "-mcp", **ask},
        headers=bearer(customer_identity("cust-5150")),
    )
    assert not over_mcp.get("isError"), over_mcp
    for answer in (over_direct, over_mcp["structuredContent"]):
        assert stable(answer) == stable(over_http.body)

    for door in ("http", "direct", "mcp"):
        [row] = audit_rows(f"{conversation_id}-{door}")
        assert (row["intent"], row["outcome"], row["channel"]) == ("claim_summary", "ok", door)
        # Personal fields are masked in the trail; the answer's own row id is not repeated.
        # The name is masked before the row is written (and the mask sealed like any
        # personal field, where the trail seals them): never stored in clear.
        stored_name = row["result"]["policyholder"]["full_name"]
        assert stored_name == "***" or "sealed_v1" in stored_name
        assert "Lucía" not in json.dumps(row["result"], ensure_ascii=False)
        assert "audit_id" not in row["result"]
    assert over_http.body["audit_id"] == str(audit_rows(conversation_id + "-http")[0]["id"])


def test_another_customers_policyholder_is_answered_as_an_unknown_policy(
    handlers, fresh_reference, audit_rows, conversation_id
):
    answer = post(
        handlers["ClaimSummaryFunction"],
        "ClaimSummaryFunction",
        {"policy_number": "POL-30001", "include_policyholder": True},
        headers_for(conversation_id, customer_id=None),
        jwt_claims=gateway_claims(customer_identity("cust-7788")),
    )
    assert answer.status == 404
    assert answer.body["error"]["code"] == "POLICY_NOT_FOUND"
    assert "Lucía" not in json.dumps(answer.body, ensure_ascii=False)
    [row] = audit_rows(conversation_id)
    assert (row["outcome"], row["customer_id"]) == ("denied", "cust-7788")


def test_the_upstream_client_reads_a_profile_and_maps_an_unknown_customer(
    fresh_reference, function_env
):
    from insurance_agent.errors import CustomerNotFound
    from insurance_agent.upstream import InsuranceApiClient

    client = InsuranceApiClient(fresh_reference.url, lambda: fresh_reference.api_key)
    try:
        customer = client.get_customer("cust-5150")
        assert customer.policies == ["POL-30001", "POL-30002", "POL-30003", "POL-30004"]
        # What we never keep from upstream's record.
        assert not {"email", "phone", "national_id", "date_of_birth", "address"} & set(
            customer.model_dump()
        )
        with pytest.raises(CustomerNotFound):
            client.get_customer("cust-4040")
    finally:
        client.close()


# -- 2. "am I covered?" --------------------------------------------------------------------------


def test_am_i_covered_through_every_door_and_audited_as_its_own_intent(
    handlers, interceptor, fresh_reference, audit_rows, conversation_id
):
    handler = handlers["ClaimSummaryFunction"]
    ask = {
        "policy_number": "POL-30001",
        "loss_date": day(-3),
        "loss_type": "water_damage",
        "amount_claimed": {"amount": "9000.00", "currency": "USD"},
    }
    over_http = http(
        handler,
        "ClaimSummaryFunction",
        COVERAGE_ROUTE,
        "/agent/coverage-check",
        ask,
        headers_for(conversation_id + "-http", customer_id="cust-5150"),
    )
    assert over_http.status == 200, over_http.body
    body = over_http.body
    assert (body["covered"], body["reasons"], body["refusal_code"]) == (True, [], None)
    # The water-damage sub-limit (25,000) less its paid (12,500) and reserved (4,000) claims.
    assert (body["deductible"], body["remaining_limit"]) == ("1500.00", "8500.00")
    assert body["estimated_payable"] == "7500.00"
    task = {"conversation_id": conversation_id + "-direct", "customer_id": "cust-5150", **ask}
    over_direct = direct(handler, "ClaimSummaryFunction", task, operation="coverage_check")
    over_mcp = call_tool(
        interceptor,
        handler,
        "ClaimSummaryFunction",
        {"conversation_id": conversation_id + "-mcp", **ask},
        headers=bearer(customer_identity("cust-5150")),
        tool="claim-summary___check_coverage",
    )
    assert not over_mcp.get("isError"), over_mcp
    for answer in (over_direct, over_mcp["structuredContent"]):
        assert stable(answer) == stable(body)
    for door in ("http", "direct", "mcp"):
        [row] = audit_rows(f"{conversation_id}-{door}")
        assert (row["intent"], row["outcome"], row["channel"]) == ("coverage_check", "ok", door)
        assert row["result"]["covered"] is True


def test_a_loss_the_answer_calls_not_covered_is_refused_by_a_filing_with_the_same_code(
    handlers, fresh_reference, audit_rows, conversation_id
):
    # POL-10002 lapsed 30 days ago: a loss two days ago is not covered.
    ask = {
        "policy_number": "POL-10002",
        "loss_date": day(-2),
        "loss_type": "collision",
        "amount_claimed": {"amount": "1800.00", "currency": "USD"},
    }
    answer = http(
        handlers["ClaimSummaryFunction"],
        "ClaimSummaryFunction",
        COVERAGE_ROUTE,
        "/agent/coverage-check",
        ask,
        headers_for(conversation_id),
    )
    assert answer.status == 200
    assert answer.body["covered"] is False
    assert [r["code"] for r in answer.body["reasons"]] == ["policy_not_in_force"]
    assert "was not in force" in answer.body["reasons"][0]["message"]
    filed = post(
        handlers["ClaimCreateFunction"],
        "ClaimCreateFunction",
        claim_body(policy_number="POL-10002", loss_date=day(-2)),
        headers_for(conversation_id, idempotency_key=f"k-{uuid.uuid4().hex}"),
    )
    assert filed.status == 422
    assert filed.body["error"]["code"] == answer.body["refusal_code"] == "POLICY_NOT_IN_FORCE"
    intents = [(r["intent"], r["outcome"]) for r in audit_rows(conversation_id)]
    assert intents == [("coverage_check", "ok"), ("claim_create", "denied")]


def test_a_direct_task_naming_an_operation_the_function_does_not_serve_is_refused(
    handlers, fresh_reference, audit_rows, conversation_id
):
    from insurance_agent.errors import RouteNotFound

    task = {"conversation_id": conversation_id, "customer_id": "cust-7788"}
    with pytest.raises(RouteNotFound) as refused:
        direct(handlers["ClaimSummaryFunction"], "ClaimSummaryFunction", task, "claim_create")
    assert refused.value.code == "UNKNOWN_OPERATION"
    [row] = audit_rows(conversation_id)
    assert (row["intent"], row["error_code"]) == ("claim_summary", "UNKNOWN_OPERATION")


def test_payload_keys_never_choose_the_operation(handlers, fresh_reference, conversation_id):
    # A coverage question's fields sent as a plain direct task (no operation in the client
    # context) reach the function's first operation, the summary, which refuses them.
    from insurance_agent.errors import ValidationFailed

    task = {
        "conversation_id": conversation_id,
        "customer_id": "cust-7788",
        "policy_number": "POL-10001",
        "loss_date": day(-1),
        "loss_type": "collision",
    }
    with pytest.raises(ValidationFailed, match="loss_date"):
        direct(handlers["ClaimSummaryFunction"], "ClaimSummaryFunction", task)


# -- 3. triage decisions -------------------------------------------------------------------------


def evidence(handlers, conversation_id: str, customer_id: str, policy: str) -> list[str]:
    """Audit rows to cite: a coverage question and a summary for the customer."""
    task = {"conversation_id": conversation_id, "customer_id": customer_id}
    summary = direct(
        handlers["ClaimSummaryFunction"],
        "ClaimSummaryFunction",
        task | {"policy_number": policy},
    )
    covered = direct(
        handlers["ClaimSummaryFunction"],
        "ClaimSummaryFunction",
        task
        | {
            "policy_number": policy,
            "loss_date": day(-20),
            "loss_type": "water_damage" if policy == "POL-30001" else "comprehensive",
        },
        "coverage_check",
    )
    return [summary["audit_id"], covered["audit_id"]]


def decision(**overrides: Any) -> dict[str, Any]:
    return {
        "policy_number": "POL-30001",
        "decision": "request_documents",
        "reasons": ["roof leak: photos of the ceiling and a roofer's report needed"],
        "confidence": "0.72",
        "decided_by": "claims-triage-agent/claude",
    } | overrides


def test_a_decision_is_recorded_through_every_door_citing_the_customers_rows(
    handlers, interceptor, fresh_reference, audit_rows, conversation_id, database_url
):
    handler = handlers["ClaimCreateFunction"]
    cited = evidence(handlers, conversation_id + "-evidence", "cust-5150", "POL-30001")
    body = decision(relied_on=cited)
    over_http = http(
        handler,
        "ClaimCreateFunction",
        DECISION_ROUTE,
        "/claims/CLM-000302/decisions",
        body,
        headers_for(conversation_id + "-http", customer_id="cust-5150"),
    )
    assert over_http.status == 201, over_http.body
    assert over_http.body["relied_on"] == cited
    assert over_http.body["customer_id"] == "cust-5150"
    task = {
        "conversation_id": conversation_id + "-direct",
        "customer_id": "cust-5150",
        "claim_id": "CLM-000302",
        **body,
    }
    over_direct = direct(handler, "ClaimCreateFunction", task, "triage_decision")
    over_mcp = call_tool(
        interceptor,
        handler,
        "ClaimCreateFunction",
        task | {"conversation_id": conversation_id + "-mcp"},
        headers=bearer(agent_identity("triage-agent")),
        tool="claim-create___record_triage_decision",
    )
    assert not over_mcp.get("isError"), over_mcp
    for answer in (over_direct, over_mcp["structuredContent"]):
        assert stable(answer) == stable(over_http.body)
    for door in ("http", "direct", "mcp"):
        [row] = audit_rows(f"{conversation_id}-{door}")
        assert (row["intent"], row["outcome"], row["channel"]) == ("triage_decision", "ok", door)
        assert row["payload"]["relied_on"] == cited
        assert row["payload"]["claim_id"] == "CLM-000302"
    # The trail is append-only: a decision, like every row, cannot be changed afterwards.
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.Error):
        conn.execute(
            'UPDATE agent_interactions SET payload = payload || \'{"decision": "fast_track"}\''
            " WHERE id = %s",
            (over_http.body["audit_id"],),
        )


def test_a_decision_citing_another_customers_or_unknown_rows_is_refused_and_audited(
    handlers, fresh_reference, audit_rows, conversation_id
):
    theirs = evidence(handlers, conversation_id + "-other", "cust-7788", "POL-10001")
    unknown = str(uuid.uuid4())
    answer = http(
        handlers["ClaimCreateFunction"],
        "ClaimCreateFunction",
        DECISION_ROUTE,
        "/claims/CLM-000302/decisions",
        decision(relied_on=[theirs[0], unknown]),
        headers_for(conversation_id, customer_id="cust-5150"),
    )
    assert answer.status == 422
    assert answer.body["error"]["code"] == "VALIDATION_FAILED"
    assert answer.body["error"]["details"]["rows"] == [theirs[0], unknown]
    [row] = audit_rows(conversation_id)
    assert (row["intent"], row["outcome"]) == ("triage_decision", "error")


def test_the_database_refuses_a_decision_row_citing_another_customers_row(
    handlers, fresh_reference, audit_rows, conversation_id, database_url
):
    """Checked in the database too: a writer that skips the function's check cannot record
    a decision resting on rows of another customer."""
    theirs = evidence(handlers, conversation_id, "cust-7788", "POL-10001")
    row = audit_rows(conversation_id)[0]
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.CheckViolation) as e:
        conn.execute(
            "INSERT INTO agent_interactions (id, created_at, conversation_id, customer_id,"
            " intent, outcome, payload, request_id, function_name, channel)"
            " VALUES (%s, now(), %s, 'cust-5150', 'triage_decision', 'ok', %s, 'r', 'f',"
            " 'direct')",
            (uuid.uuid4(), conversation_id + "-raw", json.dumps({"relied_on": [theirs[0]]})),
        )
    assert "not its customer's" in str(e.value)
    assert row["customer_id"] == "cust-7788"


def test_a_decision_on_a_claim_not_on_the_policy_is_refused(
    handlers, fresh_reference, conversation_id
):
    from insurance_agent.errors import ClaimNotFound

    cited = evidence(handlers, conversation_id, "cust-5150", "POL-30001")
    task = {
        "conversation_id": conversation_id,
        "customer_id": "cust-5150",
        "claim_id": "CLM-000101",  # Dana's claim, on POL-10001
        **decision(relied_on=cited),
    }
    with pytest.raises(ClaimNotFound):
        direct(handlers["ClaimCreateFunction"], "ClaimCreateFunction", task, "triage_decision")


def test_ops_lists_fast_tracked_claims_above_an_amount(
    handlers, fresh_reference, conversation_id, database_url
):
    from ops.decisions import fast_tracked

    # Filed over HTTP, then fast-tracked by an agent citing the filing and a summary.
    filed = post(
        handlers["ClaimCreateFunction"],
        "ClaimCreateFunction",
        claim_body(
            policy_number="POL-30002",
            amount_claimed={"amount": "7250.00", "currency": "USD"},
        ),
        headers_for(conversation_id, "cust-5150", idempotency_key=f"k-{uuid.uuid4().hex}"),
    )
    assert filed.status == 201, filed.body
    claim_id = filed.body["claim_id"]
    cited = [filed.body["audit_id"], *evidence(handlers, conversation_id, "cust-5150", "POL-30002")]
    recorded = http(
        handlers["ClaimCreateFunction"],
        "ClaimCreateFunction",
        DECISION_ROUTE,
        f"/claims/{claim_id}/decisions",
        decision(policy_number="POL-30002", decision="fast_track", relied_on=cited),
        headers_for(conversation_id, customer_id="cust-5150"),
        jwt_claims=gateway_claims(agent_identity("triage-bot")),
    )
    assert recorded.status == 201, recorded.body

    def listed(above: str, currency: str | None) -> list[str]:
        rows = fast_tracked(database_url, Decimal(above), currency)
        return [r["payload"]["claim_id"] for r in rows]

    assert claim_id in listed("5000.00", "USD")
    assert claim_id in listed("7249.99", None)
    assert claim_id not in listed("7250.00", "USD")  # above, not at
    assert claim_id not in listed("0", "EUR")


def test_a_customer_cannot_triage_its_own_claim(
    handlers, fresh_reference, audit_rows, conversation_id
):
    cited = evidence(handlers, conversation_id + "-evidence", "cust-5150", "POL-30001")
    answer = http(
        handlers["ClaimCreateFunction"],
        "ClaimCreateFunction",
        DECISION_ROUTE,
        "/claims/CLM-000302/decisions",
        decision(decision="fast_track", relied_on=cited),
        headers_for(conversation_id, customer_id=None),
        jwt_claims=gateway_claims(customer_identity("cust-5150")),
    )
    assert answer.status == 403
    assert answer.body["error"]["code"] == "AGENT_ONLY"
    [row] = audit_rows(conversation_id)
    assert (row["intent"], row["outcome"], row["customer_id"]) == (
        "triage_decision",
        "denied",
        "cust-5150",
    )


# -- Bedrock action groups (legacy): the action's apiPath picks the operation ---------------------


def test_bedrock_actions_reach_the_coverage_check_and_the_decision(
    handlers, fresh_reference, audit_rows, conversation_id
):
    from devstack.bedrock_events import bedrock_event, response_json

    attributes = {"conversation_id": conversation_id, "customer_id": "cust-5150"}
    asked = bedrock_event(
        "/agent/coverage-check",
        "POST",
        body={"policy_number": "POL-30001", "loss_date": day(-3), "loss_type": "windstorm"},
        session_attributes=attributes,
    )
    covered = handlers["ClaimSummaryFunction"](asked, LambdaContext("ClaimSummaryFunction"))
    assert covered["response"]["httpStatusCode"] == 200, covered
    answer = response_json(covered)
    assert (answer["covered"], answer["deductible"]) == (True, "5000.00")

    decided = bedrock_event(
        "/claims/{claim_id}/decisions",
        "POST",
        parameters={"claim_id": "CLM-000302"},
        body=decision(relied_on=[answer["audit_id"]]),
        session_attributes=attributes,
    )
    recorded = handlers["ClaimCreateFunction"](decided, LambdaContext("ClaimCreateFunction"))
    assert recorded["response"]["httpStatusCode"] == 201, recorded
    assert response_json(recorded)["relied_on"] == [answer["audit_id"]]
    assert [(r["intent"], r["outcome"], r["channel"]) for r in audit_rows(conversation_id)] == [
        ("coverage_check", "ok", "bedrock"),
        ("triage_decision", "ok", "bedrock"),
    ]
