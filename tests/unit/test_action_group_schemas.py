"""The committed action-group schemas are what the FastAPI apps generate, and fit Bedrock."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from insurance_agent.catalog import FUNCTIONS

from devstack.action_group_schema import (
    OPENAPI_VERSION,
    action_group_schema,
    main,
    render,
    schema_path,
)

# One action group per function, named after its first operation.
ACTION_GROUPS = sorted(ops[0].intent for ops in FUNCTIONS.values())


def walk(node: Any) -> Any:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


@pytest.mark.parametrize("intent", ACTION_GROUPS)
def test_committed_schema_matches_the_generated_one(intent):
    committed = schema_path(intent).read_text()

    hint = "drifted from the code: run python -m devstack.action_group_schema"
    assert committed == render(action_group_schema(intent)), f"{schema_path(intent).name} {hint}"


@pytest.mark.parametrize("intent", ACTION_GROUPS)
def test_schema_is_openapi_30_with_the_operations_the_bedrock_door_serves(intent):
    schema = json.loads(schema_path(intent).read_text())
    assert schema["openapi"] == OPENAPI_VERSION
    served = next(ops for ops in FUNCTIONS.values() if ops[0].intent == intent)
    assert sorted(schema["paths"]) == sorted(operation.route for operation in served)
    for operation in served:
        check_path(intent, operation, schema)


def check_path(intent: str, operation: Any, schema: dict[str, Any]) -> None:
    (method, op), *others = schema["paths"][operation.route].items()
    assert not others
    assert method.upper() == operation.method
    # Bedrock names the tool verb__actionGroupName__operationId, at most 64 characters of
    # [a-zA-Z0-9_-], and neither name may contain "__".
    assert re.fullmatch(r"[A-Za-z0-9_-]+", op["operationId"])
    assert "__" not in op["operationId"]
    assert len(f"{method}__{intent.replace('_', '-')}__{op['operationId']}") <= 64
    assert op["description"]  # Bedrock shows it to the model to choose the operation
    assert str(operation.success_status) in op["responses"]
    names = {p["name"].lower() for p in op.get("parameters", [])}
    assert not names & {"x-conversation-id", "x-customer-id", "idempotency-key"}
    for node in walk(schema):
        if isinstance(node, dict):
            assert node.get("type") != "null"  # 3.1 only; 3.0 says nullable


def test_check_mode_reports_a_stale_schema(tmp_path, monkeypatch, capsys):
    import devstack.action_group_schema as generator

    monkeypatch.setattr(generator, "SCHEMA_DIR", tmp_path)
    assert main(["--check"]) == 1
    assert main([]) == 0
    assert main(["--check"]) == 0
    path = tmp_path / "claim_create.openapi.json"
    path.write_text(path.read_text().replace("first notice of loss", "claim"))
    assert main(["--check"]) == 1
    assert "claim_create.openapi.json" in capsys.readouterr().out


@pytest.mark.parametrize("intent", ACTION_GROUPS)
def test_schema_is_valid_openapi_30(intent):
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    schema = json.loads(schema_path(intent).read_text())
    validate(schema)  # raises on an invalid document

    broken = json.loads(schema_path(intent).read_text())
    del next(iter(next(iter(broken["paths"].values())).values()))["responses"]
    with pytest.raises(OpenAPIValidationError):
        validate(broken)
