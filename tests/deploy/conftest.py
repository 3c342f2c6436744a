"""The AWS tools and the built artifacts, once per session.

`sam build` runs without a container, for the host architecture (so the built wheels import
here), into a temporary build dir: a developer's own .aws-sam is never touched.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from devstack.invoke import RUNTIME_PACKAGES, built_artifacts, lambda_env, runtime_standin
from devstack.layer_bytecode import precompile
from devstack.runtime_api import ExecutionEnvironment, execution_environment
from devstack.template import ROOT, TEMPLATE, functions, layer_logical_ids

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


# -- execution environments under AWS's runtime interface client (devstack/runtime_api.py) -----
# What Lambda's /var/runtime holds besides boto3 & co.: the runtime interface client.
RIC_PACKAGES = ("awslambdaric", "runtime_client", "simplejson", "snapshot_restore_py")
BASE_PYTHON = str(Path(sys._base_executable).resolve())  # not the dev venv's interpreter
Environment = Callable[..., Any]


@pytest.fixture(scope="session")
def ric_runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return runtime_standin(
        tmp_path_factory.mktemp("var-runtime-ric"), (*RUNTIME_PACKAGES, *RIC_PACKAGES)
    )


@pytest.fixture(scope="module")
def base_env(function_env: dict[str, str]) -> dict[str, str]:
    # template.yaml turns IAM auth on (AWS); the session's scratch database is reached by URL.
    return function_env | {"DB_IAM_AUTH": "false"}


@pytest.fixture(scope="module")
def lambda_environment(
    sam_build: Path, ric_runtime_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Environment:
    """``with lambda_environment(FunctionName, env) as fn: fn.invoke(event)``."""

    @contextmanager
    def start(
        name: str, overrides: dict[str, str], *, handler: str | None = None
    ) -> Iterator[ExecutionEnvironment]:
        spec = functions()[name]
        artifacts = built_artifacts(spec, sam_build, ric_runtime_dir)
        root = tmp_path_factory.mktemp(f"lambda-{name}") / "root"
        with execution_environment(
            root,
            code_dir=sam_build / name,
            layer_dirs=[sam_build / layer for layer in layer_logical_ids()],
            runtime_dir=ric_runtime_dir,
            handler=handler or spec.handler,
            environment=lambda_env(spec, artifacts, overrides),
            function_name=name,
            timeout_s=spec.timeout_s,
            python=BASE_PYTHON,
        ) as environment:
            yield environment

    return start


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The deploy checks share one `sam build` (a session fixture, charged to the first test
    that asks for it) and run the AWS tools: minutes on a loaded machine, not the suite's
    default two. Their own subprocess timeouts still bound each tool."""
    deploy_dir = Path(__file__).parent
    for item in items:
        if deploy_dir in Path(str(item.fspath)).parents and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(900))
