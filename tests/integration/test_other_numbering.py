"""A real insurer's identifiers: the accepted formats are settings, read at import.

The suite in numbering_insurer.py runs in a subprocess whose environment sets another
numbering, against a reference service seeded with it; a malformed pattern fails the cold
start naming its setting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devstack.template import ROOT, layer_dirs

pytestmark = pytest.mark.slow

INSURER = {
    "POLICY_NUMBER_PATTERN": "^P[0-9]{8}$",
    "CUSTOMER_ID_PATTERN": "^C[0-9]{6}$",
    "CLAIM_ID_PATTERN": "^CL[0-9]{8}$",
    "REFERENCE_NUMBERING": "insurer",
}


def test_another_insurers_numbering_passes_end_to_end():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/integration/numbering_insurer.py",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env=os.environ | INSURER,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "5 passed" in done.stdout, done.stdout[-2000:]


@pytest.mark.parametrize(
    ("setting", "pattern"),
    [
        ("POLICY_NUMBER_PATTERN", "^P[0-9{8}$"),
        ("CUSTOMER_ID_PATTERN", "^C(?<=x)[0-9]{6}$"),  # Python's re reads it; pydantic's not
        ("CLAIM_ID_PATTERN", "^CL[0-9]{8$"),
    ],
)
def test_a_malformed_pattern_fails_the_cold_start_naming_the_setting(setting, pattern):
    app = ROOT / "functions" / "policy_lookup" / "app.py"
    paths = os.pathsep.join(str(p) for p in (app.parent, *layer_dirs()))
    done = subprocess.run(
        [sys.executable, "-c", f"import runpy; runpy.run_path({str(app)!r})"],
        env=os.environ | {setting: pattern, "PYTHONPATH": paths},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "ConfigurationError" in done.stderr
    assert f"invalid configuration: {setting}" in done.stderr
