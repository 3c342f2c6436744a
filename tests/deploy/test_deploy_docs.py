"""docs/deploy.md's build commands work as written, in a fresh clone (what a reader has).

The block after ``<!-- build-commands -->`` runs in ``bash`` in a ``git clone`` of this
repository's HEAD: it must install what it needs (uv, the locked env, the AWS tools; uv's cache
makes that quick) and leave a built, precompiled layer for the architecture it names.
Uncommitted changes are not in the clone: commit before trusting this test locally.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from devstack.template import ROOT

DOC = ROOT / "docs" / "deploy.md"
BLOCK = re.compile(r"<!-- build-commands -->\s*```bash\n(?P<commands>.*?)```", re.DOTALL)


def build_commands() -> str:
    found = BLOCK.search(DOC.read_text())
    assert found, "docs/deploy.md has no <!-- build-commands --> block"
    return found.group("commands")


def test_the_documented_build_is_make_build_not_a_bare_sam_build():
    commands = build_commands()
    assert "make build" in commands
    assert not re.search(r"^\s*(\S*/)?sam build", commands, re.MULTILINE)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_documented_build_commands_work_as_written_in_a_fresh_clone(tmp_path: Path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    # What a reader's shell has: no virtualenv of ours, no PATH entry for Python 3.12 beyond
    # the system's own.
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_", "PYTHON"))
    }
    # Not a reader's setting but this machine's network: CI's offline pass (no index) keeps it.
    if "UV_OFFLINE" in os.environ:
        env["UV_OFFLINE"] = os.environ["UV_OFFLINE"]
    env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    env |= {"SAM_CLI_TELEMETRY": "0", "SAM_CLI_DISABLE_UPDATE_CHECK": "1"}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", build_commands()],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    layer = clone / ".aws-sam" / "build" / "CommonLayer" / "python"
    # arm64 wheels, as the command asked: pydantic-core's extension is built for aarch64.
    (extension,) = (layer / "pydantic_core").glob("_pydantic_core*.so")
    assert "aarch64" in extension.name
    # and the layer's bytecode was shipped (devstack.layer_bytecode ran).
    assert list((layer / "insurance_agent" / "__pycache__").glob("*.pyc"))
    # and its native libraries were stripped whatever this machine's architecture: Lambda's
    # budget for the layer is 30 MB unzipped (33.3 MB with aarch64 libraries left unstripped).
    size = sum(p.stat().st_size for p in layer.parent.rglob("*") if p.is_file())
    assert size <= 30_000_000, size
