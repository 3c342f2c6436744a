"""OpenAPI schemas of the Bedrock action groups, generated from the functions' FastAPI apps.

One schema per function, because an action group has one Lambda executor. The apps are built
with a container runtime whose services are never created (building the OpenAPI document
touches neither the database nor upstream), then adapted to what Bedrock reads:

- OpenAPI 3.0.0: ``anyOf [X, {"type": "null"}]`` becomes X with ``nullable: true`` (the 3.1 to
  3.0 step Powertools' BedrockAgentResolver also takes);
- the caller headers (``X-Conversation-Id``, ``X-Customer-Id``) and ``Idempotency-Key`` are
  left out: the Bedrock door takes them from session attributes, never from the model;
- so are the 401 and 403 answers to a bearer token: IAM lets Bedrock in, not a JWT.

    python -m devstack.action_group_schema           # write schemas/action_groups/*.json
    python -m devstack.action_group_schema --check   # exit 1 when a committed file is stale
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from devstack.generated_files import write_or_check
from devstack.template import ROOT

SCHEMA_DIR = ROOT / "schemas" / "action_groups"
OPENAPI_VERSION = "3.0.0"
# Filled by the Bedrock door from session attributes (see insurance_agent.bedrock).
SESSION_HEADERS = frozenset({"x-conversation-id", "x-customer-id", "idempotency-key"})
TOKEN_RESPONSES = ("401", "403")


def _schema_only_runtime() -> Any:
    from insurance_agent.runtime import ContainerRuntime
    from insurance_agent.settings import Settings

    return ContainerRuntime(
        Settings(
            database_url="postgresql://schema-only.invalid/unused",
            fastapi_insurance_base_url="http://schema-only.invalid",
            fastapi_insurance_api_key="unused",
        )
    )


def _to_openapi_30(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_openapi_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _to_openapi_30(value) for key, value in node.items()}
    options = out.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        del out["anyOf"]
        if len(rest) == 1:
            out = {**rest[0], **out}
        else:
            out["anyOf"] = rest
        out["nullable"] = True
    return out


def http_openapi(intent: str) -> dict[str, Any]:
    """The OpenAPI document (3.1, as FastAPI writes it) of one function's HTTP app."""
    from insurance_agent.catalog import OPERATIONS

    operation = OPERATIONS[intent]
    module_name, factory = operation.http_app.split(":")
    app = getattr(importlib.import_module(module_name), factory)(_schema_only_runtime())
    openapi: dict[str, Any] = app.openapi()
    return openapi


def action_group_schema(intent: str) -> dict[str, Any]:
    schema: dict[str, Any] = _to_openapi_30(http_openapi(intent))
    schema["openapi"] = OPENAPI_VERSION
    for path_item in schema["paths"].values():
        for op in path_item.values():
            kept = [
                p
                for p in op.get("parameters", [])
                if not (p["in"] == "header" and p["name"].lower() in SESSION_HEADERS)
            ]
            if kept:
                op["parameters"] = kept
            else:
                op.pop("parameters", None)
            for status in TOKEN_RESPONSES:
                op.get("responses", {}).pop(status, None)
    return schema


def schema_path(intent: str) -> Path:
    return SCHEMA_DIR / f"{intent}.openapi.json"


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    from insurance_agent.catalog import FUNCTIONS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail when a file is stale")
    args = parser.parse_args(argv)
    # One action group per function, named after its first operation: its schema holds the
    # routes of all the function's operations (the Bedrock door picks one by apiPath).
    files = {
        schema_path(intent): render(action_group_schema(intent))
        for intent in (ops[0].intent for ops in FUNCTIONS.values())
    }
    return write_or_check(files, check=args.check, remedy="make action-group-schemas")


if __name__ == "__main__":
    sys.exit(main())
