"""The state machine's contract with the layer, read from the files SAM deploys: the error
names it retries and catches are the exception classes the functions raise, its placeholders
are filled by template.yaml, its role invokes exactly the three functions, and a real ASL
validator accepts it."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devstack.template import load_template
from devstack.workflow import STATE_MACHINE_ID, definition_path, substitution_targets

# Lambda service errors Step Functions reports for the lambda:invoke integration.
LAMBDA_SERVICE_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
FUNCTIONS = {"PolicyLookupFunction", "ClaimCreateFunction", "ClaimSummaryFunction"}


def task_model(function_placeholder: str, operation: str | None) -> Any:
    """The task model of the operation a task invokes: the one its client context names, else
    the function's first."""
    from insurance_agent.catalog import FUNCTIONS, OPERATIONS

    if operation is not None:
        return OPERATIONS[operation].task_model
    function = function_placeholder.removeprefix("${").removesuffix("Arn}")
    return FUNCTIONS[function][0].task_model


CLAIM_FIELDS = ("loss_date", "loss_type", "description", "amount_claimed", "loss_location")


def error_classes() -> dict[str, Any]:
    """Every error class of the layer, including subclasses defined outside errors.py."""
    import insurance_agent
    from insurance_agent.errors import all_error_classes

    for module in pkgutil.walk_packages(insurance_agent.__path__, "insurance_agent."):
        importlib.import_module(module.name)
    return {cls.__name__: cls for cls in all_error_classes()}


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(definition_path().read_text())
    return loaded


def tasks(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {n: s for n, s in definition["States"].items() if s["Type"] == "Task"}
    assert set(found) == {"LookUpPolicy", "FileClaim", "SummarizeClaim", "RecordDecision"}
    return found


def retried(state: dict[str, Any]) -> set[str]:
    return {name for r in state.get("Retry", []) for name in r["ErrorEquals"]}


def caught_by_name(state: dict[str, Any]) -> dict[str, str]:
    return {
        name: c["Next"]
        for c in state.get("Catch", [])
        for name in c["ErrorEquals"]
        if name != "States.ALL"
    }


def test_every_error_name_in_the_definition_is_a_layer_error_class_or_a_service_error(definition):
    classes = error_classes()
    for name, state in tasks(definition).items():
        for error in retried(state) | set(caught_by_name(state)):
            assert error in classes or error in LAMBDA_SERVICE_ERRORS, (name, error)
    choice_fail = definition["States"]["PolicyNotActive"]["Error"]
    assert choice_fail in classes


def test_every_retryable_error_is_retried_with_backoff_on_every_task(definition):
    retryable = {n for n, cls in error_classes().items() if cls.retryable}
    assert {"UpstreamUnavailable", "UpstreamTimeout", "AuditUnavailable"} <= retryable
    for name, state in tasks(definition).items():
        assert retryable | LAMBDA_SERVICE_ERRORS <= retried(state), name
        for retrier in state["Retry"]:
            assert retrier["BackoffRate"] > 1, name
            assert retrier["MaxAttempts"] >= 2, name


def test_no_business_error_is_retried(definition):
    not_retryable = {n for n, cls in error_classes().items() if not cls.retryable}
    for name, state in tasks(definition).items():
        assert not (retried(state) & not_retryable), name


def test_every_non_retryable_error_is_caught_by_name_into_a_fail_state(definition):
    states = definition["States"]
    not_retryable = {n for n, cls in error_classes().items() if not cls.retryable}
    for name, state in tasks(definition).items():
        caught = caught_by_name(state)
        assert not_retryable <= set(caught), (name, not_retryable - set(caught))
        # Retries exhausted: still a named failure, not the catch-all.
        assert {n for n, c in error_classes().items() if c.retryable} <= set(caught), name
        assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"]
        for catcher in state["Catch"]:
            target = states[catcher["Next"]]
            assert target["Type"] == "Fail", catcher["Next"]
            # The Fail state carries the caught error's name and cause (code and message).
            assert catcher["ResultPath"] == "$.error"
            assert (target["ErrorPath"], target["CausePath"]) == ("$.error.Error", "$.error.Cause")


def test_the_create_step_carries_the_workflow_idempotency_key(definition):
    payload = definition["States"]["FileClaim"]["Parameters"]["Payload"]
    assert payload["idempotency_key.$"] == "$.idempotency_key"


def test_every_task_is_built_from_named_fields_and_says_its_door(definition):
    """No task relays an object whole (a relayed envelope must never pick the door or the
    caller), and every invocation tells the function it is a direct task."""
    import base64

    from insurance_agent.catalog import OPERATION_KEY, OPERATIONS
    from insurance_agent.doors import DOOR_KEY

    for name, state in tasks(definition).items():
        params = state["Parameters"]
        assert "Payload.$" not in params, name
        context = json.loads(base64.b64decode(params["ClientContext"]))
        custom = context.pop("custom")
        assert context == {}, name
        assert custom.pop(DOOR_KEY) == "direct", name
        operation = custom.pop(OPERATION_KEY, None)
        assert custom == {}, name
        assert operation is None or operation in OPERATIONS, name
        payload = params["Payload"]
        model = task_model(state["Parameters"]["FunctionName"], operation)
        assert {k.removesuffix(".$") for k in payload} <= set(model.model_fields), name


def test_the_workflow_records_its_decision_citing_the_rows_it_produced(definition):
    import base64

    record = definition["States"]["RecordDecision"]
    context = json.loads(base64.b64decode(record["Parameters"]["ClientContext"]))
    assert context["custom"]["insuranceAgentOperation"] == "triage_decision"
    payload = record["Parameters"]["Payload"]
    assert payload["relied_on.$"] == (
        "States.Array($.policy.audit_id, $.filed.audit_id, $.summarized.summary.audit_id)"
    )
    for step in ("LookUpPolicy", "FileClaim"):
        assert definition["States"][step]["ResultSelector"]["audit_id.$"] == "$.Payload.audit_id"


def test_placeholders_are_exactly_the_template_substitutions_of_the_three_functions():
    placeholders = set(re.findall(r"\$\{(\w+)\}", definition_path().read_text()))
    targets = substitution_targets()
    assert placeholders == set(targets)
    assert set(targets.values()) == FUNCTIONS


def test_the_state_machine_role_may_invoke_exactly_the_three_live_aliases():
    resources = load_template()["Resources"]
    machine = resources[STATE_MACHINE_ID]["Properties"]
    role_id = machine["Role"]["Fn::GetAtt"][0]
    statements = [
        s
        for policy in resources[role_id]["Properties"]["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
    ]
    invoking = [s for s in statements if "lambda:InvokeFunction" in json.dumps(s["Action"])]
    assert [s["Action"] for s in invoking] == ["lambda:InvokeFunction"]
    allowed = invoking[0]["Resource"]
    # The aliases only: not $LATEST (no provisioned concurrency there), not other versions.
    expected = [{"Ref": f"{function}.Alias"} for function in sorted(FUNCTIONS)]
    assert sorted(map(json.dumps, allowed)) == sorted(map(json.dumps, expected))
    # Everything else the role may do is Step Functions' log delivery and X-Ray.
    others = {a for s in statements if s not in invoking for a in s["Action"]}
    assert others
    assert all(a.startswith(("logs:", "xray:")) for a in others)


def asl_validator(path: Path) -> subprocess.CompletedProcess[str]:
    npx = shutil.which("npx")
    assert npx, "npx (Node.js) is needed to run asl-validator"
    return subprocess.run(
        [npx, "--yes", "asl-validator", "--json-path", str(path)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_definition_passes_the_asl_validator_which_rejects_a_broken_copy(tmp_path):
    accepted = asl_validator(definition_path())
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr

    broken = json.loads(definition_path().read_text())
    broken["States"]["IsPolicyActive"]["Default"] = "NoSuchState"
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    rejected = asl_validator(tmp_path / "broken.json")
    assert rejected.returncode != 0


def test_the_example_input_makes_valid_tasks_for_each_step(definition):
    from insurance_agent.models import ClaimCreateTask, PolicyLookupTask

    from devstack.run_workflow import DEFAULT_INPUT

    example = json.loads(DEFAULT_INPUT.read_text())
    payload = definition["States"]["FileClaim"]["Parameters"]["Payload"]
    scope = example | {"prepared": {"fields": dict.fromkeys(CLAIM_FIELDS) | example["claim"]}}

    def resolve(path: str) -> object:
        value: object = scope
        for part in path.removeprefix("$.").split("."):
            assert isinstance(value, dict)
            value = value[part]
        return value

    PolicyLookupTask.model_validate({k: example[k] for k in PolicyLookupTask.model_fields})
    ClaimCreateTask.model_validate({k.removesuffix(".$"): resolve(v) for k, v in payload.items()})
