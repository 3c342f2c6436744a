"""What a fresh container imports to answer its first direct invocation (Step Functions).

Each function answers one real task in a fresh process started the way Lambda starts one
(``devstack/lambda_bootstrap.py``, the layer and the installed dependencies on the path, boto3
among them), under ``python -X importtime``; the modules it logged are what its cold start paid
for. None of what only another door, or nothing at all, needs may be among them.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from bench.cold import imported
from bench.workload import direct_event
from devstack.invoke import bootstrap_command, lambda_env, outcome, source_artifacts
from devstack.template import functions

FUNCTIONS = {
    "policy_lookup": "PolicyLookupFunction",
    "claim_create": "ClaimCreateFunction",
    "claim_summary": "ClaimSummaryFunction",
}
# The HTTP door's framework; boto3 (botocore's package itself is imported by Powertools' user
# agent hook); pydantic-settings, which settings no longer use (installed here for the dev tools).
NEVER_ON_THE_DIRECT_PATH = ("fastapi", "starlette", "mangum", "boto3", "pydantic_settings")
# Powertools' idempotency package __init__ imports its DynamoDB layer and with it boto3, so the
# first filing pays for boto3 (in AWS every function imports boto3 on its first invocation
# anyway: the Secrets Manager key and the RDS IAM token).
ALSO_IMPORTED = {"claim_create": {"boto3"}}


def cold_direct(intent: str, env: dict[str, str]) -> tuple[dict[str, Any], set[str]]:
    """One direct task answered by a fresh process; its answer and the packages it imported."""
    spec = functions()[FUNCTIONS[intent]]
    artifacts = source_artifacts(spec)
    command = bootstrap_command(spec, artifacts, jsonl=True)
    command[1:1] = ["-X", "importtime"]
    done = subprocess.run(
        command,
        input=json.dumps(direct_event(intent, run="imports")) + "\n",
        capture_output=True,
        text=True,
        # template.yaml turns IAM auth on for AWS; locally DATABASE_URL is the way in.
        env=lambda_env(spec, artifacts, env | {"DB_IAM_AUTH": "false"}),
        cwd=artifacts.code_dir,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (record,) = [line for line in done.stdout.splitlines() if line.strip()]
    return json.loads(record), {name.split(".")[0] for name in imported(done.stderr)}


@pytest.mark.parametrize("intent", sorted(FUNCTIONS))
def test_a_direct_task_imports_no_framework_and_no_aws_sdk(intent, function_env, fresh_reference):
    record, packages = cold_direct(intent, function_env)

    assert outcome(record) == "ok", record
    assert "insurance_agent" in packages  # the log is the function's own imports
    assert "psycopg" in packages  # and its first answer's: it wrote the audit row
    assert (
        sorted(packages & (set(NEVER_ON_THE_DIRECT_PATH) - ALSO_IMPORTED.get(intent, set()))) == []
    )
