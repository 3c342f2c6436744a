"""template.yaml's SnapStart switch passes `sam validate --lint` (cfn-lint), and says what it
must: SnapStart on published versions behind
a parameter, exclusive with provisioned concurrency. Needs `make aws-tools` (make test runs it)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from devstack.template import load_template
from tests.deploy.conftest import REGION, SAM, run_tool, tool


@pytest.fixture(scope="module")
def with_snapstart() -> dict[str, Any]:
    return load_template()


def _validate(template: dict[str, Any], tmp_path: Path) -> tuple[int, str]:
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    done = run_tool(tool(SAM), "validate", "--lint", "--template-file", path, "--region", REGION)
    return done.returncode, done.stdout + done.stderr


def test_the_merged_template_validates(with_snapstart, tmp_path):
    code, output = _validate(with_snapstart, tmp_path)

    assert code == 0, output
    assert "is a valid SAM Template" in output


def test_the_lint_would_see_a_broken_snapstart(with_snapstart, tmp_path):
    broken = copy.deepcopy(with_snapstart)
    broken["Globals"]["Function"]["SnapStart"] = {"ApplyOn": "Always"}

    code, _ = _validate(broken, tmp_path)

    assert code != 0


def test_snapstart_is_a_parameter_off_by_default_and_excludes_provisioned_concurrency(
    with_snapstart,
):
    parameter = with_snapstart["Parameters"]["SnapStart"]
    assert parameter["Default"] == "false"
    assert with_snapstart["Globals"]["Function"]["SnapStart"] == {
        "ApplyOn": {"Fn::If": ["SnapStartOn", "PublishedVersions", "None"]}
    }
    rule = with_snapstart["Rules"]["SnapStartExcludesProvisionedConcurrency"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "SnapStart"}, "true"]}
    assert rule["Assertions"][0]["Assert"] == {
        "Fn::Equals": [{"Ref": "ProvisionedConcurrency"}, "0"]
    }
    # Published versions exist only behind the alias.
    assert with_snapstart["Globals"]["Function"]["AutoPublishAlias"] == "live"
