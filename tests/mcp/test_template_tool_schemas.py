"""template.yaml's Gateway targets publish exactly the generated tool definitions, each on the
function that serves that tool.

The targets (AWS::BedrockAgentCore::GatewayTarget, a Lambda target with an inline tool schema)
are written in template.yaml with CloudFormation's capitalised keys; the generated files
(schemas/mcp/, `make mcp-schemas`) hold the same list with the API's keys.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from insurance_agent import catalog

from devstack.mcp_tool_schema import TOOLS, cloudformation_form, committed_tools
from devstack.template import ROOT, functions, load_template

TARGET_TYPE = "AWS::BedrockAgentCore::GatewayTarget"


def gateway_targets() -> dict[str, dict[str, Any]]:
    """The template's Gateway targets by their Name."""
    resources = load_template()["Resources"]
    return {
        res["Properties"]["Name"]: res["Properties"]
        for res in resources.values()
        if res.get("Type") == TARGET_TYPE
    }


def lambda_target(properties: dict[str, Any]) -> dict[str, Any]:
    target: dict[str, Any] = properties["TargetConfiguration"]["Mcp"]["Lambda"]
    return target


def referenced_ids(node: Any) -> set[str]:
    """Every logical id an intrinsic in ``node`` names (Ref, GetAtt, ${Sub} variables)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else str(value).split(".")[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found |= {v.split(".")[0] for v in re.findall(r"\$\{([^}!]+)\}", text)}
            found |= referenced_ids(value)
    elif isinstance(node, list):
        for value in node:
            found |= referenced_ids(value)
    return found


def serving_function(intent: str) -> str:
    """The logical id of the function whose app.py serves ``intent``'s operation."""
    # A function's app.py names its default operation; the others come with it.
    default = catalog.served_with(catalog.OPERATIONS[intent])[0]
    constant = next(
        name
        for name, value in vars(catalog).items()
        if isinstance(value, catalog.Operation) and value.intent == default.intent
    )
    serving = [
        spec.logical_id
        for spec in functions().values()
        if re.search(rf"\bimport\b[^\n]*\b{constant}\b", (spec.code_dir / "app.py").read_text())
    ]
    assert len(serving) == 1, f"{intent}: served by {serving}"
    return serving[0]


def test_the_template_declares_one_lambda_target_per_tool():
    targets = gateway_targets()

    assert sorted(targets) == sorted({tool.target for tool in TOOLS.values()}), (
        f"template.yaml ({ROOT / 'template.yaml'}) has Gateway targets {sorted(targets)}; "
        "expected one AWS::BedrockAgentCore::GatewayTarget per MCP tool"
    )


@pytest.mark.parametrize("intent", sorted(TOOLS))
def test_inline_tool_schema_equals_the_generated_one(intent):
    target = gateway_targets().get(TOOLS[intent].target)
    assert target is not None, f"template.yaml has no Gateway target {TOOLS[intent].target}"

    inline = lambda_target(target)["ToolSchema"]["InlinePayload"]

    assert inline == cloudformation_form(committed_tools(TOOLS[intent].target)), (
        "template.yaml's inline tool schema differs from schemas/mcp: paste the generated "
        "definitions (devstack.mcp_tool_schema.cloudformation_form) into the target"
    )


@pytest.mark.parametrize("intent", sorted(TOOLS))
def test_each_target_invokes_the_function_that_serves_its_tool(intent):
    target = gateway_targets().get(TOOLS[intent].target)
    assert target is not None, f"template.yaml has no Gateway target {TOOLS[intent].target}"

    named = referenced_ids(lambda_target(target)["LambdaArn"])

    function = serving_function(intent)
    assert function in named or any(name.startswith(function) for name in named), (
        f"{TOOLS[intent].target} invokes {named}, not {function}"
    )


def test_the_serving_function_is_read_from_each_app_py():
    assert {intent: serving_function(intent) for intent in sorted(TOOLS)} == {
        "claim_create": "ClaimCreateFunction",
        "claim_summary": "ClaimSummaryFunction",
        "coverage_check": "ClaimSummaryFunction",
        "policy_lookup": "PolicyLookupFunction",
        "triage_decision": "ClaimCreateFunction",
    }
