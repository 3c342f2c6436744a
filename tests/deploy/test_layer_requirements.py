"""The layer's requirements.txt is what `make layer-requirements` makes from uv.lock today."""

from __future__ import annotations

import subprocess
from pathlib import Path

from devstack.template import ROOT

COMMITTED = ROOT / "layers" / "common" / "requirements.txt"


def test_layer_requirements_are_in_sync_with_the_lockfile(tmp_path: Path):
    regenerated = tmp_path / "requirements.txt"
    done = subprocess.run(
        ["make", "-s", "layer-requirements", f"LAYER_REQUIREMENTS={regenerated}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert regenerated.read_text() == COMMITTED.read_text(), (
        "layers/common/requirements.txt is stale: run `make layer-requirements`"
    )


def test_layer_requirements_pin_every_runtime_dependency_exactly():
    lines = [
        line for line in COMMITTED.read_text().splitlines() if line and not line.startswith("#")
    ]
    assert lines
    assert all("==" in line.split(";")[0] for line in lines)
    names = {line.split("==")[0] for line in lines}
    assert {"aws-lambda-powertools", "psycopg", "psycopg-pool", "pydantic", "httpx"} <= names
    # The Lambda runtime ships boto3; carrying a second copy only grows the layer.
    assert "boto3" not in names
