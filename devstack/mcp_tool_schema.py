"""MCP tool definitions of the three functions, generated from the pydantic contract.

One file per AgentCore Gateway target, ``schemas/mcp/<target>.tools.json``: the target's
inline tool-schema list ``[{name, description, inputSchema, outputSchema}]`` as the
CreateGatewayTarget API takes it (``toolSchema.inlinePayload``); template.yaml carries the same
list with CloudFormation's capitalised keys (``Name``, ``InputSchema``, ``Type``...).

What AgentCore accepts shapes everything here. Its ``SchemaDefinition`` has five keys only --
``type`` (string, number, integer, boolean, object, array: no ``null``), ``description``,
``properties``, ``required``, ``items`` -- and CloudFormation refuses any other key
(``additionalProperties: false`` in the resource schema). So pydantic's JSON Schema is flattened:

- ``$ref`` is inlined; ``anyOf [X, null]`` (an Optional field) becomes X, left out of
  ``required``; an amount's ``anyOf [decimal string, number]`` becomes the string;
- the constraints the five keys cannot carry (pattern, enum, length, date format) are written
  into the field's description, generated from the model, after a sentence written for a model;
- an answer's fields are all required, except the ones that may be null: no AgentCore type
  admits null, so those are left out of ``properties`` (an unlisted property takes any value,
  null included) and named in the object's description instead. The answer is then the same
  JSON every door gives, and an MCP client that checks ``structuredContent`` against the
  ``outputSchema`` accepts it.

The published inputSchema is the direct task's fields (the caller fields plus the request's),
never ``caller_assertion``: only the interceptor writes that.

    python -m devstack.mcp_tool_schema           # write schemas/mcp/*.tools.json
    python -m devstack.mcp_tool_schema --check   # exit 1 when a committed file is stale
    python -m devstack.mcp_tool_schema --cloudformation   # the InlinePayloads for template.yaml
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from devstack.generated_files import write_or_check
from devstack.template import ROOT

SCHEMA_DIR = ROOT / "schemas" / "mcp"
# Gateway names a tool "<target>___<tool>" (AgentCore developer guide, "tool naming").
TOOL_NAME_SEPARATOR = "___"
# Written by the REQUEST interceptor only; an agent's value is stripped before the function.
RESERVED_ARGUMENTS = frozenset({"caller_assertion"})
AGENTCORE_SCHEMA_KEYS = frozenset({"type", "description", "properties", "required", "items"})
AGENTCORE_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array"})

Mode = Literal["validation", "serialization"]


@dataclass(frozen=True)
class McpTool:
    """How one function appears on the gateway: its target and the tool the target lists."""

    intent: str
    target: str
    description: str

    @property
    def tool(self) -> str:
        """The tool's name, as the catalog gives it (the function's MCP door checks it)."""
        from insurance_agent.catalog import OPERATIONS

        return OPERATIONS[self.intent].tool

    @property
    def gateway_name(self) -> str:
        return f"{self.target}{TOOL_NAME_SEPARATOR}{self.tool}"


MONEY_NOTE = (
    "Money is a decimal string with exactly two decimals and no separators or exponent "
    '(e.g. "1250.00"), never a float, always with its ISO 4217 currency.'
)

TOOLS: dict[str, McpTool] = {
    tool.intent: tool
    for tool in (
        McpTool(
            intent="policy_lookup",
            target="policy-lookup",
            description=(
                "Look up one insurance policy by its number and read its status (active, "
                "lapsed, cancelled, expired), cover period, coverages (each peril with its "
                "limit and deductible) and totals. Call it when the customer asks about their "
                "cover, and before filing a claim to check the policy is active on the loss "
                "date and covers the loss type. A policy that does not exist, or that this "
                "customer does not hold, is answered POLICY_NOT_FOUND in the same way. "
                + MONEY_NOTE
            ),
        ),
        McpTool(
            intent="claim_create",
            target="claim-create",
            description=(
                "File a first notice of loss: open a new claim on the customer's policy for "
                "one loss (date, type, what happened, the amount claimed). Call it once the "
                "customer has confirmed the details; it creates a claim in the insurer's "
                "system. Give each distinct claim its own idempotency_key and reuse that key "
                "when retrying the same claim: a retry with the same key and fields returns "
                "the claim already filed instead of filing twice; the same key with different "
                "fields is refused (IDEMPOTENCY_CONFLICT). Refused with POLICY_NOT_IN_FORCE "
                "when the policy was not active on the loss date and PERIL_NOT_COVERED when "
                "the policy does not cover the loss type. " + MONEY_NOTE
            ),
        ),
        McpTool(
            intent="claim_summary",
            target="claim-summary",
            description=(
                "Summarise a policy's claims position: coverage limit, deductible, paid and "
                "reserved to date, remaining limit, the open claims, and (given a claim_id) "
                "that claim's assessment with its estimated payable amount. Call it when the "
                "customer asks where their claims stand or what a claim may pay; it changes "
                "nothing. Answers POLICY_NOT_FOUND or CLAIM_NOT_FOUND for a policy or claim "
                "this customer does not hold. " + MONEY_NOTE
            ),
        ),
        McpTool(
            intent="coverage_check",
            target="claim-summary",
            description=(
                "Answer 'am I covered?' for a loss without filing anything: for a policy, the "
                "day of the loss, the peril and optionally the amount, say whether it would be "
                "covered, every reason it would not (each with words you can quote to the "
                "customer), the deductible, the limit left for that peril and the estimated "
                "payable amount. It applies exactly the rules a filing is checked against, so a "
                "loss answered covered is accepted by file_claim and one answered not covered "
                "is refused with refusal_code. Changes nothing. " + MONEY_NOTE
            ),
        ),
        McpTool(
            intent="triage_decision",
            target="claim-create",
            description=(
                "Record the triage decision you took on a claim (fast_track, "
                "refer_to_adjuster, request_documents, decline_to_proceed) with your reasons, "
                "your confidence (0 to 1), who decided (your model or workflow id) and the "
                "audit_id of every earlier answer you relied on (each answer of these tools "
                "carries its audit_id; they must be answers about the same customer). The "
                "decision is kept in the audit trail for compliance and cannot be changed. "
                "Agents only: a customer's own token is refused (AGENT_ONLY)."
            ),
        ),
    )
}

# What each field means, for the model reading the schema. Keyed by property name: the
# contract spells a name the same wherever it appears. A property without a note fails the
# tests, so a field added to a model is described before it is published.
FIELD_NOTES: dict[str, str] = {
    # issue 13: "am I covered?" and triage decisions
    "covered": "true when the loss would be covered (a filing of it would be accepted).",
    "reasons": (
        "Why: for a coverage answer, every rule the loss breaks (code and a message to quote); "
        "for a triage decision, your short reasons."
    ),
    "code": "A stable reason code (e.g. policy_not_in_force, peril_not_covered).",
    "message": "The reason in words you can quote to the customer.",
    "refusal_code": (
        "The error code a filing of this loss would be refused with; null when covered."
    ),
    "decision": "fast_track, refer_to_adjuster, request_documents or decline_to_proceed.",
    "confidence": 'Your confidence in the decision, a decimal from 0 to 1 (e.g. "0.85").',
    "decided_by": "The model or workflow that decided (e.g. claims-triage-agent/v3).",
    "relied_on": (
        "The audit_id of each answer the decision relied on (at least one; the same customer's)."
    ),
    "recorded_at": "When the decision was recorded (UTC).",
    # caller fields
    "conversation_id": (
        "Your identifier for this conversation with the customer; reuse it for every call in "
        "the same conversation so the audit trail groups them."
    ),
    "customer_id": (
        "The customer you act for. A customer's own token may only name that customer; an "
        "agent token names the customer it is serving."
    ),
    "idempotency_key": (
        "Your unique key for this claim (e.g. a UUID). Reuse it only to retry the same claim."
    ),
    # requests
    "policy_number": "The policy number, as printed on the policy (e.g. POL-10001).",
    "claim_id": "The claim's identifier, as returned when it was filed (e.g. CLM-000102).",
    "loss_date": "The day the loss happened (ISO 8601 date); not in the future.",
    "loss_type": (
        "The peril that caused the loss, in lower case with underscores, as the policy's "
        "coverages name it (e.g. collision, theft, water_damage)."
    ),
    "description": "What happened, in the customer's words.",
    "amount_claimed": "The amount the customer claims for this loss.",
    "amount": "A decimal string with at most two decimals (answers always have two).",
    "currency": "ISO 4217 currency code in capitals (e.g. USD, EUR).",
    "loss_location": "Where the loss happened (address or place), if the customer said.",
    # answers
    "status": "The current status.",
    "product_line": "The kind of insurance (e.g. auto, home).",
    "effective_date": "First day of cover, an ISO 8601 date.",
    "expiration_date": "Last day of cover, an ISO 8601 date.",
    "terminated_on": (
        "The day cover ended early (lapse or cancellation), an ISO 8601 date; null while cover "
        "runs."
    ),
    "coverages": "What the policy covers, one entry per peril.",
    "peril": "The peril covered, as loss_type names it when filing.",
    "limit": "The most the policy pays for this peril, in the policy's currency.",
    "deductible": "The part of a loss the customer bears, in the policy's currency.",
    "totals": "Policy-wide amounts.",
    "aggregate_limit": "The most the policy pays across all claims, in the policy's currency.",
    "paid_amount": "Paid so far on this claim, in the claim's currency.",
    "reserve_amount": "Set aside for this claim's expected cost, in the claim's currency.",
    "created_at": "When the claim was filed, an ISO 8601 UTC timestamp.",
    "policy_status": "The policy's status.",
    "coverage_limit": "The policy's aggregate limit, in the policy's currency.",
    "paid_to_date": "Paid across the policy's claims, in the policy's currency.",
    "reserved_to_date": "Reserved across the open claims, in the policy's currency.",
    "remaining_limit": "The aggregate limit less paid and reserved, in the policy's currency.",
    "open_claims": "The policy's claims still open (submitted, under review or approved).",
    "claim": (
        "The assessment of the claim named by claim_id (claim_id, status, amount_claimed, "
        "deductible and estimated_payable, amounts as decimal strings); null when no claim_id "
        "was given."
    ),
    "estimated_payable": (
        "What the claim may pay: the amount claimed less the deductible, within the "
        "remaining limit, in the policy's currency."
    ),
    "summary": "A one-paragraph plain-language summary to relay to the customer.",
    "as_of": "When this summary was computed, an ISO 8601 UTC timestamp.",
    # issue 13 (use cases): every answer names its audit row; the summary's policyholder
    "audit_id": (
        "The id of the audit record of this answer; cite it in a triage decision's relied_on."
    ),
    "include_policyholder": (
        "true to add who holds the policy: name, preferred contact channel and language, their "
        "other policies and their claims history."
    ),
    "policyholder": "Who holds the policy (only when include_policyholder was true).",
    "full_name": "The policyholder's name.",
    "preferred_contact_channel": "How the policyholder prefers to be contacted.",
    "preferred_language": "The policyholder's preferred language (e.g. en, es).",
    "other_policies": "The policyholder's other policies: number, product line, status.",
    "claims_history": "The policyholder's claims on all their policies: counts and paid totals.",
    "total": "How many claims in all.",
    "open": "How many are open (submitted, under review, approved).",
    "paid": "How many were paid something.",
    "rejected_or_withdrawn": "How many were rejected or withdrawn.",
    "paid_totals": "What was paid, one total per currency.",
}
# Where one tool's input field needs more than the shared note says.
TOOL_FIELD_NOTES: dict[str, dict[str, str]] = {
    "claim_summary": {
        "claim_id": (
            "Optional: one claim on this policy (e.g. CLM-000102) to assess; leave it out for "
            "the policy's position only."
        ),
    },
}


# -- pydantic JSON Schema -> AgentCore SchemaDefinition -----------------------------------


class SchemaError(ValueError):
    """A model field the flattening does not know how to publish."""


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict) and "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return _resolve({**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}, defs)
    return node


def _flatten(node: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(a node without anyOf, whether it may be null)."""
    node = _resolve(node, defs)
    options = node.get("anyOf")
    if options is None:
        return node, False
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    branches = [_resolve(o, defs) for o in options]
    nullable = any(b.get("type") == "null" for b in branches)
    kept = [b for b in branches if b.get("type") != "null"]
    if len(kept) > 1:
        # An amount as a request takes it: a decimal string or a JSON number. Published as
        # the string, which is what answers carry and what we ask agents to send.
        strings = [b for b in kept if b.get("type") == "string"]
        if len(strings) == 1 and {b.get("type") for b in kept} == {"string", "number"}:
            kept = strings
    if len(kept) != 1:
        raise SchemaError(f"cannot publish a union without anyOf: {options}")
    inner, inner_nullable = _flatten({**kept[0], **rest}, defs)
    return inner, nullable or inner_nullable


def _constraints(node: dict[str, Any]) -> list[str]:
    """The JSON Schema keywords AgentCore has no key for, as sentences."""
    said: list[str] = []
    if "enum" in node:
        said.append("One of: " + ", ".join(str(v) for v in node["enum"]) + ".")
    if "const" in node:
        said.append(f"Always {node['const']}.")
    fmt = node.get("format")
    if fmt == "date":
        said.append("Format: YYYY-MM-DD.")
    elif fmt == "date-time":
        said.append("Format: ISO 8601 date-time with offset.")
    if "pattern" in node:
        said.append(f"Must match {node['pattern']}.")
    if node.get("minLength") == 1:
        said.append("Not empty.")
    elif node.get("minLength", 0) > 1:
        said.append(f"At least {node['minLength']} characters.")
    if "maxLength" in node:
        said.append(f"At most {node['maxLength']} characters.")
    return said


def _agentcore(
    node: dict[str, Any],
    defs: dict[str, Any],
    *,
    mode: Mode,
    note: str | None,
    notes: dict[str, str],
) -> dict[str, Any]:
    node, _ = _flatten(node, defs)
    kind = node.get("type")
    if kind not in AGENTCORE_TYPES:
        raise SchemaError(f"no AgentCore type for {node}")
    out: dict[str, Any] = {"type": kind}
    text = " ".join([note, *_constraints(node)] if note else _constraints(node))
    if text:
        out["description"] = text
    if kind == "object" and "properties" in node:
        properties: dict[str, Any] = {}
        required: list[str] = []
        declared = set(node.get("required", []))
        unlisted: list[str] = []
        for name, child in node["properties"].items():
            if name in RESERVED_ARGUMENTS:
                continue
            _, nullable = _flatten(child, defs)
            if mode == "serialization" and nullable:
                # An answer's field that may be null: no AgentCore type admits null, so it is
                # named in the object's description (an unlisted property takes any value).
                note_text = notes.get(name, "may be null.")
                unlisted.append(f"Also carries {name}: {note_text[0].lower()}{note_text[1:]}")
                continue
            properties[name] = _agentcore(child, defs, mode=mode, note=notes.get(name), notes=notes)
            # A request needs what the model requires; an answer always carries every field.
            if name in declared or mode == "serialization":
                required.append(name)
        if unlisted:
            also = " ".join(unlisted)
            out["description"] = f"{out['description']} {also}" if "description" in out else also
        out["properties"] = properties
        if required:
            out["required"] = required
    if kind == "array":
        out["items"] = _agentcore(node["items"], defs, mode=mode, note=None, notes=notes)
    return out


def agentcore_schema(
    model: type[BaseModel], mode: Mode, notes: dict[str, str] | None = None
) -> dict[str, Any]:
    """A model's JSON Schema (pydantic's, for ``mode``) as an AgentCore SchemaDefinition,
    each property described by ``notes`` (by default FIELD_NOTES)."""
    schema = model.model_json_schema(mode=mode)
    return _agentcore(
        schema, schema.get("$defs", {}), mode=mode, note=None, notes=notes or FIELD_NOTES
    )


def answer_model(intent: str) -> type[BaseModel]:
    """What the operation answers on success: the return type of the function it runs."""
    from insurance_agent.catalog import OPERATIONS

    run = OPERATIONS[intent].run
    returned = typing.get_type_hints(run)["return"]
    if not (isinstance(returned, type) and issubclass(returned, BaseModel)):
        raise SchemaError(f"{intent}: {run.__name__} does not declare a model it returns")
    return returned


def tool_definition(intent: str) -> dict[str, Any]:
    from insurance_agent.catalog import OPERATIONS

    tool = TOOLS[intent]
    notes = FIELD_NOTES | TOOL_FIELD_NOTES.get(intent, {})
    return {
        "name": tool.tool,
        "description": tool.description,
        "inputSchema": agentcore_schema(OPERATIONS[intent].task_model, "validation", notes),
        "outputSchema": agentcore_schema(answer_model(intent), "serialization"),
    }


def target_tools(intent: str) -> list[dict[str, Any]]:
    """The inline payload of the target that serves ``intent``: every tool of that target
    (one target is one function, which may serve several operations)."""
    target = TOOLS[intent].target
    return [tool_definition(i) for i, tool in TOOLS.items() if tool.target == target]


# -- other consumers' forms --------------------------------------------------------------


def gateway_listing(target: str, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tools as Gateway lists them over MCP: each name prefixed with its target."""
    return [{**tool, "name": f"{target}{TOOL_NAME_SEPARATOR}{tool['name']}"} for tool in tools]


def openai_strict_parameters(schema: dict[str, Any], *, nullable: bool = False) -> dict[str, Any]:
    """An AgentCore schema as OpenAI strict function calling wants it: every object closed
    (``additionalProperties: false``) with every property required, an optional one typed
    ``[T, "null"]`` instead (the agent then sends null for "not given")."""
    out = dict(schema)
    if schema["type"] == "object":
        required = set(schema.get("required", []))
        properties = {
            name: openai_strict_parameters(child, nullable=name not in required)
            for name, child in schema.get("properties", {}).items()
        }
        out["properties"] = properties
        out["required"] = list(properties)
        out["additionalProperties"] = False
    if schema["type"] == "array":
        out["items"] = openai_strict_parameters(schema["items"])
    if nullable:
        out["type"] = [schema["type"], "null"]
    return out


def cloudformation_form(node: Any, *, keys: bool = True) -> Any:
    """The inline payload with CloudFormation's capitalised keys (property names untouched)."""
    if isinstance(node, list):
        return [cloudformation_form(item) for item in node]
    if not isinstance(node, dict):
        return node
    if not keys:  # a Properties map: its keys are field names
        return {name: cloudformation_form(child) for name, child in node.items()}
    return {
        key[0].upper() + key[1:]: cloudformation_form(value, keys=key != "properties")
        for key, value in node.items()
    }


# -- files ------------------------------------------------------------------------------


def schema_path(target: str) -> Path:
    return SCHEMA_DIR / f"{target}.tools.json"


def render(tools: list[dict[str, Any]]) -> str:
    return json.dumps(tools, indent=2) + "\n"


def committed_tools(target: str) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = json.loads(schema_path(target).read_text())
    return tools


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail when a file is stale")
    parser.add_argument(
        "--cloudformation",
        action="store_true",
        help="print each target's InlinePayload as template.yaml writes it (YAML)",
    )
    args = parser.parse_args(argv)
    if args.cloudformation:
        import yaml

        for tool in TOOLS.values():
            inline = cloudformation_form(committed_tools(tool.target))
            print(f"# {tool.target}: TargetConfiguration.Mcp.Lambda.ToolSchema.InlinePayload")
            print(yaml.safe_dump(inline, sort_keys=False, width=100), end="")
        return 0
    files = {schema_path(t.target): render(target_tools(i)) for i, t in TOOLS.items()}
    return write_or_check(files, check=args.check, remedy="make mcp-schemas")


if __name__ == "__main__":
    sys.exit(main())
