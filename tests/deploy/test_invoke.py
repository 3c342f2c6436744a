"""`make invoke`: the Docker-free `sam local invoke`, and the stack file it reads."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devstack.invoke import EVENTS_DIR, render_event
from devstack.stack_env import StackNotRunning, read_stack_env, write_sam_env, write_stack_env
from devstack.template import ROOT


@pytest.fixture
def stack_env_file(tmp_path: Path, function_env: dict[str, str]) -> Path:
    return write_stack_env(function_env | {"DB_IAM_AUTH": "false"}, tmp_path / "stack.env")


def test_stack_env_is_private_and_round_trips(tmp_path: Path):
    env = {"FASTAPI_INSURANCE_API_KEY": "ref-a$b#c d", "DATABASE_URL": "postgresql://x@h/db"}

    path = write_stack_env(env, tmp_path / "stack.env")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_stack_env(path) == env
    sourced = subprocess.run(
        ["bash", "-c", f'set -a; . {path}; echo "$FASTAPI_INSURANCE_API_KEY"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert sourced.stdout.strip() == env["FASTAPI_INSURANCE_API_KEY"]
    with pytest.raises(ValueError, match="FASTAPI_INSURANCE_API_KEY"):
        write_stack_env({"FASTAPI_INSURANCE_API_KEY": "it's"}, tmp_path / "bad.env")


def test_sam_env_points_the_container_at_the_host_with_the_running_key(tmp_path: Path):
    env = {
        "FASTAPI_INSURANCE_API_KEY": "ref-abc",
        "FASTAPI_INSURANCE_BASE_URL": "http://127.0.0.1:8081",
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/insurance_agent",
    }

    path = write_sam_env(env, tmp_path / "sam-env.json")

    params = json.loads(path.read_text())["Parameters"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert params["FASTAPI_INSURANCE_API_KEY"] == "ref-abc"
    assert params["FASTAPI_INSURANCE_BASE_URL"] == "http://host.docker.internal:8081"
    assert (
        params["DATABASE_URL"] == "postgresql://postgres@host.docker.internal:5432/insurance_agent"
    )
    assert params["DB_IAM_AUTH"] == "false"


def test_without_a_running_stack_invoke_says_so(tmp_path: Path):
    with pytest.raises(StackNotRunning, match="make run"):
        read_stack_env(tmp_path / "absent.env")
    done = invoke_cli(
        "PolicyLookupFunction", "events/policy_lookup_ok.json", "--env-file", f"{tmp_path}/x"
    )
    assert done.returncode == 2
    assert "make run" in done.stderr
    assert "Traceback" not in done.stderr


def test_placeholders_render_relative_to_today():
    event = render_event(
        EVENTS_DIR / "claim_create_direct_ok.json", datetime(2026, 3, 10, tzinfo=UTC)
    )

    assert event["loss_date"] == "2026-03-08"
    assert event["idempotency_key"].startswith("evt-direct-")
    assert len(event["idempotency_key"]) == len("evt-direct-") + 32


def invoke_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack.invoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_invoke_prints_the_response_on_stdout_and_keeps_the_key_out_of_it(
    stack_env_file: Path, fresh_reference
):
    done = invoke_cli(
        "PolicyLookupFunction", "events/policy_lookup_ok.json", "--env-file", str(stack_env_file)
    )

    assert done.returncode == 0, done.stderr
    response = json.loads(done.stdout)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["policy_number"] == "POL-10001"
    assert fresh_reference.api_key not in done.stdout + done.stderr


def test_invoke_reports_a_direct_refusal_the_way_lambda_does(stack_env_file: Path, fresh_reference):
    done = invoke_cli(
        "ClaimSummaryFunction",
        "events/claim_summary_direct_unknown_policy.json",
        "--env-file",
        str(stack_env_file),
    )

    error = json.loads(done.stdout)
    assert error["errorType"] == "PolicyNotFound"
    assert "POL-99999" in error["errorMessage"]
    assert "Traceback" in done.stderr  # the function's log stream, not its answer


def test_invoke_refuses_an_unknown_function(stack_env_file: Path):
    done = invoke_cli("NoSuchFunction", "events/policy_lookup_ok.json")

    assert done.returncode == 2
    assert "PolicyLookupFunction" in done.stderr
