"""The AWS tools run from their locks: every package and version of tools/aws-tools/<name>.txt,
nothing else, so two clean clones lint with the same cfn-lint rules."""

from __future__ import annotations

import re
import subprocess

import pytest

from devstack.template import ROOT
from tests.deploy.conftest import AWS_TOOLS, tool

LOCKS = sorted((ROOT / "tools" / "aws-tools").glob("*.txt"))
UV = ROOT / ".local" / "tools" / "bin" / "uv"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path) -> dict[str, str]:
    return {canonical(n): v for n, v in PIN.findall(path.read_text())}


def test_there_is_a_hash_locked_requirement_file_per_tool_and_it_pins_the_tool():
    assert {p.stem for p in LOCKS} == {"sam", "checkov"}
    for lock in LOCKS:
        text = lock.read_text()
        pins = locked(lock)
        (wanted,) = PIN.findall(lock.with_suffix(".in").read_text())
        assert pins[canonical(wanted[0])] == wanted[1]
        # Every requirement carries hashes (uv pip sync --require-hashes refuses otherwise).
        requirements = [line for line in text.splitlines() if line[:1].isalnum()]
        assert all("==" in line for line in requirements)  # exact versions only
        assert text.count("--hash=sha256:") >= len(requirements)
    assert "cfn-lint" in locked(ROOT / "tools" / "aws-tools" / "sam.txt")


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.stem)
def test_the_installed_tool_environment_is_exactly_its_lock(lock):
    python = tool(AWS_TOOLS / lock.stem / "bin" / "python")
    frozen = subprocess.run(
        [str(UV), "pip", "freeze", "--python", str(python)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {canonical(n): v for n, v in PIN.findall(frozen)}
    # Markers can leave out a locked package on this platform (e.g. colorama off Windows).
    pins = locked(lock)
    assert set(installed) <= set(pins)
    assert {n: pins[n] for n in installed} == installed
    assert len(installed) >= 0.9 * len(pins)
