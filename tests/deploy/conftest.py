"""The AWS tools and the built artifacts, once per session.

`sam build` runs without a container, for the host architecture (so the built wheels import
here), into a temporary build dir: a developer's own .aws-sam is never touched.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.invoke import runtime_standin
from devstack.layer_bytecode import precompile
from devstack.template import ROOT, TEMPLATE

AWS_TOOLS = ROOT / ".local" / "aws-tools"
SAM = AWS_TOOLS / "sam" / "bin" / "sam"
CHECKOV = AWS_TOOLS / "checkov" / "bin" / "checkov"
# SAM's own cfn-lint (the one `sam validate --lint` runs), from the locked tools.
CFN_LINT = AWS_TOOLS / "sam" / "bin" / "cfn-lint"
REGION = "us-east-1"


def host_architecture() -> str:
    return {"aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "x86_64")


def tool(path: Path) -> Path:
    # Not a skip: without the tools the deploy checks did not run, and that must be visible.
    assert path.exists(), f"{path} missing: run `make aws-tools` (make test does)"
    return path


def tool_env() -> dict[str, str]:
    """No telemetry, no update checks: the tools must not reach for the network.

    SAM's Python builder wants a ``python3.12`` with pip on PATH: the interpreter this
    environment was made from (the venv's own has no pip), as the Makefile arranges too.
    """
    base_python = Path(sys._base_executable).resolve().parent
    return os.environ | {
        "PATH": f"{base_python}{os.pathsep}{os.environ.get('PATH', '')}",
        "SAM_CLI_TELEMETRY": "0",
        "SAM_CLI_DISABLE_UPDATE_CHECK": "1",
        "BC_SKIP_MAPPING": "TRUE",
        "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
    }


def run_tool(*args: str | Path, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.fixture(scope="session")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build_dir = tmp_path_factory.mktemp("sam") / "build"
    done = run_tool(
        tool(SAM),
        "build",
        *("--template-file", TEMPLATE, "--build-dir", build_dir, "--region", REGION),
        *("--parameter-overrides", f"Architecture={host_architecture()}"),
    )
    assert done.returncode == 0, f"sam build failed:\n{done.stdout}\n{done.stderr}"
    # As `make build` does: the built-artifact tests run the precompiled layer.
    precompile(build_dir / "CommonLayer" / "python")
    return build_dir


@pytest.fixture(scope="session")
def lambda_runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for the Lambda runtime's /var/runtime (boto3 & co.), linked from this env."""
    return runtime_standin(tmp_path_factory.mktemp("var-runtime"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The deploy checks share one `sam build` (a session fixture, charged to the first test
    that asks for it) and run the AWS tools: minutes on a loaded machine, not the suite's
    default two. Their own subprocess timeouts still bound each tool."""
    deploy_dir = Path(__file__).parent
    for item in items:
        if deploy_dir in Path(str(item.fspath)).parents and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(900))
