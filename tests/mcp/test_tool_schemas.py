"""The committed MCP tool definitions are what the pydantic contract generates, and each
consumer accepts them: AgentCore Gateway (CloudFormation's resource schema, no anyOf/oneOf/
allOf), MCP (the SDK's Tool model), OpenAI strict function calling and Anthropic tool use."""

from __future__ import annotations

import copy
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import mcp_types
import pytest
from insurance_agent.catalog import OPERATIONS
from insurance_agent.models import ClaimSummary, Policy

from devstack.mcp_tool_schema import (
    AGENTCORE_SCHEMA_KEYS,
    AGENTCORE_TYPES,
    RESERVED_ARGUMENTS,
    TOOLS,
    answer_model,
    cloudformation_form,
    committed_tools,
    gateway_listing,
    main,
    openai_strict_parameters,
    render,
    schema_path,
    target_tools,
)
from devstack.template import ROOT

INTENTS = sorted(TOOLS)
# OpenAI function names and Anthropic tool names share this rule.
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def walk(node: Any) -> Any:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def schemas_of(tool: dict[str, Any]) -> list[dict[str, Any]]:
    return [tool["inputSchema"], tool["outputSchema"]]


def subschemas(schema: dict[str, Any]) -> Any:
    """Every schema node: the root, each property's, each array's items."""
    yield schema
    for child in (schema.get("properties") or {}).values():
        yield from subschemas(child)
    if "items" in schema:
        yield from subschemas(schema["items"])


def listed_tool(intent: str) -> dict[str, Any]:
    """The committed definition of ``intent``'s tool, among its target's tools."""
    name = OPERATIONS[intent].tool
    (found,) = [t for t in committed_tools(TOOLS[intent].target) if t["name"] == name]
    return found


@pytest.fixture(params=INTENTS)
def intent(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def tool(intent: str) -> dict[str, Any]:
    return listed_tool(intent)


# -- one source -----------------------------------------------------------------------------


def test_committed_schema_matches_the_generated_one(intent):
    path = schema_path(TOOLS[intent].target)

    hint = "drifted from the models: run make mcp-schemas"
    assert path.read_text() == render(target_tools(intent)), f"{path.name} {hint}"


def test_check_mode_reports_a_stale_schema(tmp_path, monkeypatch, capsys):
    import devstack.mcp_tool_schema as generator

    monkeypatch.setattr(generator, "SCHEMA_DIR", tmp_path)
    assert main(["--check"]) == 1
    assert main([]) == 0
    assert main(["--check"]) == 0
    path = tmp_path / "claim-create.tools.json"
    path.write_text(path.read_text().replace("first notice of loss", "claim"))
    assert main(["--check"]) == 1
    assert "claim-create.tools.json" in capsys.readouterr().out


def test_input_schema_is_the_direct_task_without_the_reserved_argument(intent, tool):
    task_fields = set(OPERATIONS[intent].task_model.model_fields) - RESERVED_ARGUMENTS
    required = {
        name
        for name, field in OPERATIONS[intent].task_model.model_fields.items()
        if field.is_required() and name not in RESERVED_ARGUMENTS
    }

    assert set(tool["inputSchema"]["properties"]) == task_fields
    assert set(tool["inputSchema"]["required"]) == required


def test_caller_assertion_is_never_published(tool):
    for node in walk(tool):
        if isinstance(node, dict):
            assert not RESERVED_ARGUMENTS & set(node.get("properties") or {})
            assert not RESERVED_ARGUMENTS & set(node.get("required") or [])


def test_a_reserved_field_on_a_model_is_left_out(monkeypatch):
    from pydantic import create_model

    from devstack.mcp_tool_schema import agentcore_schema

    task = create_model("Task", policy_number=(str, ...), caller_assertion=(str, ...))

    published = agentcore_schema(task, "validation")

    assert set(published["properties"]) == {"policy_number"}
    assert published["required"] == ["policy_number"]


def test_output_schema_is_the_answer_model(intent, tool):
    schema = answer_model(intent).model_json_schema(mode="serialization")
    nullable = {
        name
        for name, child in schema["properties"].items()
        if {"type": "null"} in child.get("anyOf", [])
    }
    output = tool["outputSchema"]

    assert set(output["properties"]) == set(schema["properties"]) - nullable
    assert output["required"] == list(output["properties"])
    for name in nullable:  # no AgentCore type admits null: named in the description instead
        assert f"Also carries {name}: " in output["description"]


# -- AgentCore Gateway ------------------------------------------------------------------------


def test_agentcore_form_has_only_the_schema_definition_keys(tool):
    assert set(tool) == {"name", "description", "inputSchema", "outputSchema"}
    for schema in schemas_of(tool):
        for node in subschemas(schema):
            assert set(node) <= AGENTCORE_SCHEMA_KEYS, node
            assert node["type"] in AGENTCORE_TYPES
        for node in walk(schema):
            if isinstance(node, dict):
                assert not {"anyOf", "oneOf", "allOf", "$ref", "$defs"} & set(node)


def cloudformation_resource_schema() -> dict[str, Any]:
    """cfn-lint's copy of AWS::BedrockAgentCore::GatewayTarget's resource schema."""
    (site,) = (ROOT / ".local" / "aws-tools" / "sam" / "lib").glob("python3*/site-packages")
    schemas = site / "cfnlint" / "data" / "schemas"
    # Not a skip: without the tools this consumer was not checked, and that must be visible.
    assert schemas.exists(), f"{schemas} missing: run `make aws-tools` (make test does)"
    providers = json.loads((schemas / "providers" / "us-east-1.json").read_text())
    digest = providers["AWS::BedrockAgentCore::GatewayTarget"]
    schema: dict[str, Any] = json.loads((schemas / "resources" / f"{digest}.json").read_text())
    return schema


def tool_definition_validator() -> jsonschema.protocols.Validator:
    resource = cloudformation_resource_schema()
    schema = {"$ref": "#/definitions/ToolDefinition", "definitions": resource["definitions"]}
    return jsonschema.Draft7Validator(schema)


def test_cloudformation_accepts_each_tool_definition(tool):
    validator = tool_definition_validator()

    errors = list(validator.iter_errors(cloudformation_form(tool)))

    assert not errors, [e.message for e in errors]


def test_cloudformation_refuses_a_pattern_key_so_the_test_can_fail(tool):
    broken = copy.deepcopy(tool)
    broken["inputSchema"]["properties"]["policy_number"]["pattern"] = "^POL-[0-9]+$"

    assert list(tool_definition_validator().iter_errors(cloudformation_form(broken)))


def test_cloudformation_form_capitalises_keys_but_not_field_names():
    tool = {
        "name": "t",
        "inputSchema": {
            "type": "object",
            "properties": {"policy_number": {"type": "string"}},
            "required": ["policy_number"],
        },
    }

    assert cloudformation_form(tool) == {
        "Name": "t",
        "InputSchema": {
            "Type": "object",
            "Properties": {"policy_number": {"Type": "string"}},
            "Required": ["policy_number"],
        },
    }


# -- MCP ---------------------------------------------------------------------------------------


def test_the_mcp_sdk_tool_model_takes_each_listed_tool(intent, tool):
    from mcp.shared.tool_name_validation import validate_tool_name

    (listed,) = gateway_listing(TOOLS[intent].target, [tool])
    parsed = mcp_types.Tool.model_validate(listed)

    assert parsed.name == TOOLS[intent].gateway_name
    assert parsed.input_schema["type"] == "object"
    assert parsed.output_schema is not None
    assert parsed.output_schema["type"] == "object"
    verdict = validate_tool_name(parsed.name)
    assert verdict.is_valid
    assert not verdict.warnings
    for schema in schemas_of(tool):
        jsonschema.Draft202012Validator.check_schema(schema)


def test_gateway_names_carry_the_target_and_three_underscores():
    assert sorted(TOOLS[i].gateway_name for i in INTENTS) == [
        "claim-create___file_claim",
        "claim-create___record_triage_decision",
        "claim-summary___check_coverage",
        "claim-summary___get_claim_summary",
        "policy-lookup___lookup_policy",
    ]


def test_a_valid_task_passes_both_the_model_and_the_published_schema(intent, tool):
    task = {
        "conversation_id": "conv-1",
        "customer_id": "cust-7788",
        "policy_number": "POL-10001",
    }
    if intent == "claim_create":
        task |= {
            "idempotency_key": "claim-key-0001",
            "loss_date": "2026-11-02",
            "loss_type": "collision",
            "description": "Parking lot scrape",
            "amount_claimed": {"amount": "1250.00", "currency": "USD"},
        }
    if intent == "claim_summary":
        task["claim_id"] = "CLM-000102"
    if intent == "coverage_check":
        task |= {"loss_date": "2026-11-02", "loss_type": "collision"}
    if intent == "triage_decision":
        task |= {
            "claim_id": "CLM-000102",
            "decision": "fast_track",
            "reasons": ["small, clear-cut collision claim"],
            "confidence": "0.90",
            "decided_by": "claims-triage-agent/v3",
            "relied_on": ["01a23b32-d672-74e0-b77e-572a4e08affe"],
        }

    OPERATIONS[intent].task_model.model_validate(task)
    jsonschema.validate(task, tool["inputSchema"])
    missing = {k: v for k, v in task.items() if k != "policy_number"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(missing, tool["inputSchema"])


def policy_answer() -> Policy:
    return Policy.model_validate(
        {
            "policy_number": "POL-10001",
            "status": "active",
            "product_line": "auto",
            "customer_id": "cust-7788",
            "effective_date": "2026-01-01",
            "expiration_date": "2026-12-31",
            "currency": "USD",
            "coverages": [{"peril": "collision", "limit": "25000", "deductible": "500"}],
            "totals": {"aggregate_limit": "50000", "deductible": "500"},
        }
    )


def test_an_answer_with_its_null_fields_fits_the_output_schema():
    tool = listed_tool("policy_lookup")
    answer = policy_answer().model_dump(mode="json")

    assert answer["terminated_on"] is None
    jsonschema.validate(answer, tool["outputSchema"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(answer | {"status": 5}, tool["outputSchema"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {k: v for k, v in answer.items() if k != "totals"}, tool["outputSchema"]
        )


def test_money_in_answers_is_a_two_decimal_string():
    tool = listed_tool("claim_summary")
    summary = ClaimSummary.model_construct(deductible=Decimal("500.00"))
    schema = tool["outputSchema"]["properties"]["deductible"]

    assert summary.model_dump(mode="json", include={"deductible"}) == {"deductible": "500.00"}
    assert schema["type"] == "string"
    assert (
        "two decimals" in schema["description"]
        or "^-?[0-9]{1,13}\\.[0-9]{2}$" in (schema["description"])
    )


# -- OpenAI strict function calling --------------------------------------------------------


def strict_function(intent: str, tool: dict[str, Any]) -> dict[str, Any]:
    """What an OpenAI Agents SDK / Chat Completions client sends for this tool."""
    return {
        "type": "function",
        "name": TOOLS[intent].gateway_name,
        "description": tool["description"],
        "parameters": openai_strict_parameters(tool["inputSchema"]),
        "strict": True,
    }


def assert_openai_strict(schema: dict[str, Any], depth: int = 1) -> None:
    """OpenAI's structured-outputs subset: closed objects, every property required (optional
    ones nullable), supported types only, at most 10 levels of nesting."""
    assert depth <= 10
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    assert set(types) <= {"string", "number", "integer", "boolean", "object", "array", "null"}
    assert not {"anyOf", "oneOf", "allOf", "$ref"} & set(schema)
    if "object" in types:
        assert schema.get("additionalProperties") is False
        assert schema["required"] == list(schema["properties"])
        for child in schema["properties"].values():
            assert_openai_strict(child, depth + 1)
    if "array" in types:
        assert_openai_strict(schema["items"], depth + 1)


def test_openai_strict_function_definition(intent, tool):
    function = strict_function(intent, tool)

    assert FUNCTION_NAME.fullmatch(function["name"])
    assert function["parameters"]["type"] == "object"
    assert_openai_strict(function["parameters"])
    jsonschema.Draft202012Validator.check_schema(function["parameters"])


def test_openai_strict_makes_optional_fields_nullable_not_optional():
    tool = listed_tool("claim_create")
    parameters = openai_strict_parameters(tool["inputSchema"])

    assert "loss_location" not in tool["inputSchema"]["required"]
    assert "loss_location" in parameters["required"]
    assert parameters["properties"]["loss_location"]["type"] == ["string", "null"]
    assert parameters["properties"]["policy_number"]["type"] == "string"


def test_the_strict_check_can_fail():
    tool = listed_tool("claim_create")

    with pytest.raises(AssertionError):
        assert_openai_strict(tool["inputSchema"])  # the AgentCore form is not closed


# -- Anthropic tool use -----------------------------------------------------------------------


def test_anthropic_tool_definition(intent, tool):
    anthropic_tool = {
        "name": TOOLS[intent].gateway_name,
        "description": tool["description"],
        "input_schema": tool["inputSchema"],
    }

    assert FUNCTION_NAME.fullmatch(anthropic_tool["name"])
    assert anthropic_tool["input_schema"]["type"] == "object"
    jsonschema.Draft202012Validator.check_schema(anthropic_tool["input_schema"])


# -- written for a model ------------------------------------------------------------------------


def test_every_field_is_described_for_a_model(tool):
    for schema in schemas_of(tool):
        for node in subschemas(schema):
            for name, child in (node.get("properties") or {}).items():
                assert child.get("description"), f"{tool['name']}: {name} has no description"


def test_tool_descriptions_say_when_to_call_and_how_money_is_written(intent, tool):
    description = tool["description"]

    assert 200 < len(description) < 1200
    if intent == "triage_decision":  # no money in or out: says what it records, and for whom
        assert "Record" in description
        assert "audit_id" in description
        return
    assert "Call it" in description or "without filing" in description
    assert '"1250.00"' in description
    assert "currency" in description


def test_constraints_the_schema_cannot_carry_are_in_the_descriptions():
    tool = listed_tool("claim_create")
    properties = tool["inputSchema"]["properties"]

    assert "^POL-[0-9]{5,10}$" in properties["policy_number"]["description"]
    assert "YYYY-MM-DD" in properties["loss_date"]["description"]
    assert "At most 2000 characters" in properties["description"]["description"]


def test_committed_files_are_the_three_targets():
    files = sorted(p.name for p in Path(schema_path("x").parent).glob("*.json"))

    assert files == sorted({f"{TOOLS[i].target}.tools.json" for i in INTENTS})
