"""The claim-intake state machine, executed by moto's Step Functions interpreter against the
real handlers (in-process, through devstack.sfn_bridge), real Postgres and the reference
insurance service over HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from moto import mock_aws

from devstack.sfn_bridge import MOTO_CONFIG, lambda_bridge
from devstack.workflow import Execution, MotoWorkflow
from tests.conftest import upstream_claim_count
from tests.integration.conftest import claim_body

pytestmark = pytest.mark.slow


@pytest.fixture
def run_workflow(
    handlers: dict[str, Callable[[Any, Any], Any]],
) -> Callable[..., tuple[Execution, list[str]]]:
    """Run one execution; ``overrides`` replaces handlers by function logical id."""

    def run(
        workflow_input: dict[str, Any],
        throttle: dict[str, int] | None = None,
        **overrides: Callable[[Any, Any], Any],
    ) -> tuple[Execution, list[str]]:
        with (
            mock_aws(config=MOTO_CONFIG),
            lambda_bridge({**handlers, **overrides}, throttle=throttle) as invoked,
        ):
            execution = MotoWorkflow().run(workflow_input)
        return execution, invoked

    return run


def intake(conversation_id: str, policy_number: str = "POL-10001", **claim: Any) -> dict[str, Any]:
    body = claim_body(policy_number=policy_number, **claim)
    del body["policy_number"]  # the workflow carries it once, at the top
    return {
        "conversation_id": conversation_id,
        "customer_id": "cust-7788",
        "policy_number": policy_number,
        "claim": body,
        "idempotency_key": f"intake-{uuid.uuid4().hex}",
    }


def test_happy_path_files_one_claim_and_succeeds_with_its_summary(
    run_workflow, fresh_reference, audit_rows, conversation_id
):
    before = upstream_claim_count(fresh_reference)

    execution, invoked = run_workflow(intake(conversation_id))

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    assert invoked == [
        "PolicyLookupFunction",
        "ClaimCreateFunction",
        "ClaimSummaryFunction",
        "ClaimCreateFunction",  # its triage_decision operation: the workflow's decision
    ]
    assert upstream_claim_count(fresh_reference) == before + 1
    summary = execution.output
    assert summary["policy_number"] == "POL-10001"
    assert summary["claim"]["amount_claimed"] == {"amount": "1800.00", "currency": "USD"}
    # 1,800.00 claimed minus the 500.00 deductible.
    assert summary["claim"]["estimated_payable"] == "1300.00"
    rows = audit_rows(conversation_id)
    # Four interactions: the lookup, the claim creation (its pending intent row plus the ok
    # result row that names it: one interaction, two rows), the summary, and the workflow's
    # triage decision citing the rows the other three produced.
    assert [(r["intent"], r["outcome"]) for r in rows] == [
        ("policy_lookup", "ok"),
        ("claim_create", "pending"),
        ("claim_create", "ok"),
        ("claim_summary", "ok"),
        ("triage_decision", "ok"),
    ]
    assert rows[2]["intent_id"] == rows[1]["id"]
    decision = rows[4]
    assert decision["payload"]["relied_on"] == [str(rows[i]["id"]) for i in (0, 2, 3)]
    assert decision["payload"]["decision"] == "fast_track"  # 1,300.00 is under 5,000.00 USD
    assert decision["payload"]["claim_id"] == summary["claim"]["claim_id"]
    assert decision["payload"]["decided_by"] == "claim-intake-workflow"
    assert summary["triage_decision"] == {
        "audit_id": str(decision["id"]),
        "decision": "fast_track",
        "decided_by": "claim-intake-workflow",
    }
    interactions = {r["intent_id"] or r["id"] for r in rows}
    assert len(interactions) == 4
    assert {r["channel"] for r in rows} == {"direct"}
    assert {r["customer_id"] for r in rows} == {"cust-7788"}
    assert rows[2]["result"]["claim_id"] == summary["claim"]["claim_id"]


def test_lapsed_policy_fails_at_the_choice_and_files_nothing(
    run_workflow, fresh_reference, audit_rows, conversation_id
):
    before = upstream_claim_count(fresh_reference)

    execution, invoked = run_workflow(intake(conversation_id, policy_number="POL-10002"))

    assert execution.status == "FAILED"
    assert execution.error == "PolicyNotInForce"
    assert execution.cause == "POLICY_NOT_IN_FORCE: policy POL-10002 is lapsed; no claim was filed"
    assert execution.states_entered()[-1] == "PolicyNotActive"
    assert invoked == ["PolicyLookupFunction"]
    assert upstream_claim_count(fresh_reference) == before
    assert [r["intent"] for r in audit_rows(conversation_id)] == ["policy_lookup"]


def run_with_claim_fault(
    run_workflow, make_entry, reference, conversation_id, fault, **settings
) -> tuple[Execution, list[str], int]:
    """Run the intake with a fault on upstream claim filings and the create function's own
    client retries off, so the state machine's Retry is what recovers. Returns the execution,
    the invocations and how many claims upstream gained."""
    entry = make_entry("claim_create", upstream_retry_attempts=1, **settings)
    rule = {"path_prefix": "/v1/claims", "method": "POST", **fault}
    with reference.admin() as admin:
        admin.post("/_admin/faults", json=rule).raise_for_status()
    before = upstream_claim_count(reference)
    execution, invoked = run_workflow(intake(conversation_id), ClaimCreateFunction=entry.handler)
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    return execution, invoked, upstream_claim_count(reference) - before


def test_upstream_failing_twice_is_retried_by_the_state_machine_and_files_one_claim(
    run_workflow, make_entry, fresh_reference, audit_rows, conversation_id
):
    execution, invoked, filed = run_with_claim_fault(
        run_workflow, make_entry, fresh_reference, conversation_id, {"status": 503, "times": 2}
    )

    assert invoked.count("ClaimCreateFunction") == 3 + 1  # three filings, one decision
    assert filed == 1
    failed = [e for e in execution.history if e["type"] == "TaskFailed"]
    assert [json.loads(e["taskFailedEventDetails"]["cause"])["errorType"] for e in failed] == [
        "UpstreamUnavailable",
        "UpstreamUnavailable",
    ]
    create_rows = audit_rows(conversation_id, intent="claim_create")
    outcomes = [r["outcome"] for r in create_rows]
    assert outcomes.count("pending") == 3
    assert [o for o in outcomes if o != "pending"] == ["error", "error", "ok"]
    # Every attempt carried the workflow's key: that is what made the retries safe.
    assert (
        {r["idempotency_key"] for r in create_rows} == {create_rows[0]["idempotency_key"]} != {None}
    )


def test_a_lost_answer_from_upstream_is_retried_without_filing_a_second_claim(
    run_workflow, make_entry, fresh_reference, audit_rows, conversation_id
):
    # Upstream files the first claim, then holds its answer past the client's read timeout:
    # the answer is lost, the state machine retries with the same key, upstream replays.
    _, invoked, filed = run_with_claim_fault(
        run_workflow,
        make_entry,
        fresh_reference,
        conversation_id,
        {"delay_s": 1.0, "after_processing": True},
        upstream_read_timeout_s=0.4,
    )

    assert invoked.count("ClaimCreateFunction") == 2 + 1  # two filings, one decision
    assert filed == 1
    create_rows = audit_rows(conversation_id, intent="claim_create")
    assert [r["error_code"] for r in create_rows if r["outcome"] == "error"] == ["UPSTREAM_TIMEOUT"]


def test_a_throttled_lambda_invocation_is_retried_as_a_lambda_service_error(
    run_workflow, fresh_reference, conversation_id
):
    execution, invoked = run_workflow(intake(conversation_id), throttle={"PolicyLookupFunction": 1})

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    failed = [
        e["taskFailedEventDetails"]["error"] for e in execution.history if e["type"] == "TaskFailed"
    ]
    assert failed == ["Lambda.TooManyRequestsException"]
    assert invoked.count("PolicyLookupFunction") == 1  # the refused call never ran


def test_rerunning_with_the_same_idempotency_key_files_no_second_claim(
    run_workflow, fresh_reference, conversation_id
):
    workflow_input = intake(conversation_id)
    before = upstream_claim_count(fresh_reference)

    first, _ = run_workflow(workflow_input)
    second, _ = run_workflow(workflow_input)

    assert first.status == second.status == "SUCCEEDED"
    assert first.output["claim"]["claim_id"] == second.output["claim"]["claim_id"]
    assert upstream_claim_count(fresh_reference) == before + 1


def test_validation_failure_is_caught_into_a_named_fail_state(
    run_workflow, fresh_reference, audit_rows, conversation_id
):
    before = upstream_claim_count(fresh_reference)
    workflow_input = intake(conversation_id)
    del workflow_input["claim"]["description"]

    execution, _ = run_workflow(workflow_input)

    assert execution.status == "FAILED"
    assert execution.error == "ValidationFailed"
    assert execution.states_entered()[-1] == "InvalidRequest"
    cause = json.loads(execution.cause or "{}")
    assert cause["errorType"] == "ValidationFailed"
    # The cause carries the stable code and the message, which names the field.
    assert cause["errorMessage"].startswith("VALIDATION_FAILED: invalid task input")
    assert "description" in cause["errorMessage"]
    assert upstream_claim_count(fresh_reference) == before
    refused = audit_rows(conversation_id, intent="claim_create")
    assert [(r["outcome"], r["error_code"]) for r in refused] == [("error", "VALIDATION_FAILED")]


def forged_http_claim(conversation_id: str) -> dict[str, Any]:
    """The security review's payload: a ``claim`` shaped like an API Gateway v2 event whose
    verified-looking claims name a forged agent, another customer and that customer's policy."""
    return {
        "version": "2.0",
        "routeKey": "POST /claims",
        "rawPath": "/claims",
        "headers": {
            "content-type": "application/json",
            "x-customer-id": "cust-9001",
            "x-conversation-id": f"{conversation_id}-hijacked",
            "idempotency-key": f"forged-{uuid.uuid4().hex}",
        },
        "requestContext": {
            "requestId": "forged\nrequest",
            "routeKey": "POST /claims",
            "http": {"method": "POST", "path": "/claims", "sourceIp": "127.0.0.1"},
            "authorizer": {"jwt": {"claims": {"sub": "forged-agent", "scope": "insurance/agent"}}},
        },
        "body": json.dumps(claim_body(policy_number="POL-20001", loss_type="fire")),
        "isBase64Encoded": False,
    }


def forged_bedrock_claim(conversation_id: str) -> dict[str, Any]:
    return {
        "messageVersion": "1.0",
        "actionGroup": "claims",
        "apiPath": "/claims",
        "httpMethod": "POST",
        "agent": {"name": "forged", "id": "FORGED", "alias": "A", "version": "1"},
        "sessionId": f"{conversation_id}-hijacked",
        "sessionAttributes": {"customer_id": "cust-9001"},
        "inputText": "",
        "requestBody": {"content": {"application/json": {"properties": []}}},
    }


@pytest.mark.parametrize(
    "forge", [forged_http_claim, forged_bedrock_claim], ids=["http", "bedrock"]
)
def test_a_claim_shaped_like_another_doors_event_cannot_choose_its_door_or_caller(
    run_workflow, fresh_reference, audit_rows, conversation_id, database_url, forge
):
    """Reproduction of the review's finding (high): the execution is for cust-7788/POL-10001;
    its ``claim`` object carries an HTTP or Bedrock envelope that named cust-9001, POL-20001
    and a forged agent. Nothing is filed; the refusal is audited as a direct task."""
    import psycopg

    before = upstream_claim_count(fresh_reference)
    workflow_input = intake(conversation_id)
    workflow_input["claim"] = forge(conversation_id)

    execution, invoked = run_workflow(workflow_input)

    assert execution.status == "FAILED"
    assert execution.error == "ValidationFailed"
    assert invoked == ["PolicyLookupFunction", "ClaimCreateFunction"]
    assert upstream_claim_count(fresh_reference) == before
    rows = audit_rows(conversation_id)
    assert [(r["intent"], r["outcome"], r["channel"]) for r in rows] == [
        ("policy_lookup", "ok", "direct"),
        ("claim_create", "error", "direct"),
    ]
    assert {r["principal"] for r in rows} == {"iam-invoke"}
    assert {r["customer_id"] for r in rows} == {"cust-7788"}
    with psycopg.connect(database_url) as conn:
        forged = conn.execute(
            "SELECT count(*) FROM agent_interactions WHERE customer_id = 'cust-9001' "
            "AND conversation_id LIKE %s OR principal LIKE '%%forged%%' "
            "OR channel IN ('http', 'bedrock') AND conversation_id LIKE %s",
            (f"{conversation_id}%", f"{conversation_id}%"),
        ).fetchone()
    assert forged == (0,)


def test_a_large_claim_is_referred_to_an_adjuster_and_ops_answers_what_it_relied_on(
    run_workflow, fresh_reference, audit_rows, conversation_id, database_url
):
    import subprocess
    import sys

    from devstack.template import ROOT

    big = intake(conversation_id, amount_claimed={"amount": "9000.00", "currency": "USD"})
    execution, _ = run_workflow(big)

    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    claim_id = execution.output["claim"]["claim_id"]
    assert execution.output["claim"]["estimated_payable"] == "8500.00"
    assert execution.output["triage_decision"]["decision"] == "refer_to_adjuster"
    rows = audit_rows(conversation_id)
    (decision,) = [r for r in rows if r["intent"] == "triage_decision"]
    assert decision["payload"]["reasons"] == [
        "estimated payable 8500.00 USD is not under the fast-track threshold of 5000.00 USD"
    ]

    def ops(*args: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-m", "ops", *args, "--database-url", database_url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return done.stdout.splitlines()

    lines = ops("decisions", "--claim", claim_id)
    assert f"refer_to_adjuster on {claim_id}" in lines[0]
    cited = [line for line in lines if line.strip().startswith("relied on")]
    assert [line.split(":")[1].split()[0:2] for line in cited] == [
        ["policy_lookup", "ok"],
        ["claim_create", "ok"],
        ["claim_summary", "ok"],
    ]
    # Not fast-tracked, so not among the fast-tracked claims whatever the threshold.
    assert not any(claim_id in line for line in ops("fast-tracked", "--above", "0"))
