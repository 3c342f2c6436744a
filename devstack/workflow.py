"""The claim-intake state machine on moto: deploy it the way template.yaml does, run it, wait.

The definition file and the ``DefinitionSubstitutions`` keys are read from the repository
(statemachine/claim_intake.asl.json, template.yaml), so what runs here is what SAM deploys.
Functions are created in moto under their template logical ids; ``sfn_bridge`` routes their
invocations to in-process handlers.
"""

from __future__ import annotations

import io
import json
import re
import time
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.template import ROOT, load_template

STATE_MACHINE_ID = "ClaimIntakeStateMachine"
ALIAS = "live"  # AutoPublishAlias in template.yaml
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def definition_path(template: dict[str, Any] | None = None) -> Path:
    props = (template or load_template())["Resources"][STATE_MACHINE_ID]["Properties"]
    return ROOT / str(props["DefinitionUri"])


def substitution_targets(template: dict[str, Any] | None = None) -> dict[str, str]:
    """Placeholder -> logical id of the function whose `live` alias replaces it
    (``!Ref X.Alias``: the alias carries the provisioned concurrency, $LATEST does not)."""
    props = (template or load_template())["Resources"][STATE_MACHINE_ID]["Properties"]
    targets: dict[str, str] = {}
    for key, value in props["DefinitionSubstitutions"].items():
        logical_id, _, attribute = str(value.get("Ref", "")).partition(".")
        if attribute != "Alias":
            raise ValueError(f"{key}: expected !Ref <Function>.Alias, got {value}")
        targets[key] = logical_id
    return targets


def substitute(definition: str, values: Mapping[str, str]) -> str:
    """Fill ``${Name}`` placeholders as CloudFormation does; an unknown name is an error."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(f"no DefinitionSubstitutions value for ${{{name}}}")
        return values[name]

    return _PLACEHOLDER.sub(fill, definition)


@dataclass(frozen=True)
class Execution:
    status: str
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]

    def states_entered(self) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history
            if "stateEnteredEventDetails" in e
        ]


class MotoWorkflow:
    """The state machine and its three functions, created in an active ``mock_aws``."""

    def __init__(self, region: str = "us-east-1") -> None:
        import boto3

        self.sfn = boto3.client("stepfunctions", region_name=region)
        self._lambda = boto3.client("lambda", region_name=region)
        self._iam = boto3.client("iam", region_name=region)
        role = self._iam.create_role(
            RoleName="claim-intake-test",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        template = load_template()
        arns = {
            key: self._create_function(logical_id, role)
            for key, logical_id in substitution_targets(template).items()
        }
        definition = substitute(definition_path(template).read_text(), arns)
        self.arn = self.sfn.create_state_machine(
            name="claim-intake", definition=definition, roleArn=role
        )["stateMachineArn"]

    def _create_function(self, name: str, role: str) -> str:
        """The function, a published version and its `live` alias; answers the alias ARN."""
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("app.py", "# bridged to the in-process handler\n")
        version: str = self._lambda.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": code.getvalue()},
            Timeout=10,
            Publish=True,
        )["Version"]
        alias: str = self._lambda.create_alias(
            FunctionName=name, Name=ALIAS, FunctionVersion=version
        )["AliasArn"]
        return alias

    def run(self, workflow_input: dict[str, Any], *, timeout_s: float = 60.0) -> Execution:
        execution_arn = self.sfn.start_execution(
            stateMachineArn=self.arn,
            name=f"run-{uuid.uuid4().hex}",
            input=json.dumps(workflow_input),
        )["executionArn"]
        deadline = time.monotonic() + timeout_s
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution still running after {timeout_s}s")
            time.sleep(0.05)
        history = self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)
        return Execution(
            status=described["status"],
            output=json.loads(described["output"]) if described.get("output") else None,
            error=described.get("error"),
            cause=described.get("cause"),
            history=history["events"],
        )
