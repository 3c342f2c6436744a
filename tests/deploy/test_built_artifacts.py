"""What `sam build` produced, loaded the way Lambda loads it, answers every events/ file as the
manifest says, against real PostgreSQL and the reference insurance service.

Each function runs in its own ``python -I -S`` process (devstack/lambda_bootstrap.py) whose
sys.path is the built function dir, the built layer's python/ and a stand-in for the Lambda
runtime's /var/runtime (boto3 & co. linked from this environment: the real runtime ships
them and the layer deliberately does not). Nothing from the source tree or the dev env.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from devstack.invoke import (
    Artifacts,
    EventCase,
    built_artifacts,
    invoke_many,
    load_manifest,
    outcome,
    render_event,
)
from devstack.template import ROOT, FunctionSpec, functions

CASES = load_manifest()
SPECS = functions()


@pytest.fixture(scope="module")
def local_overrides(function_env: dict[str, str]) -> dict[str, str]:
    # template.yaml turns IAM auth on (AWS); the session's scratch database is reached by URL.
    return function_env | {"DB_IAM_AUTH": "false"}


Run = tuple[EventCase, dict[str, Any], dict[str, Any]]


@pytest.fixture(scope="module")
def runs(
    sam_build: Path, lambda_runtime_dir: Path, local_overrides: dict[str, str], reference: Any
) -> dict[str, list[Run]]:
    """Every event, through its built function: one process per function, like a warm one."""
    with reference.admin() as admin:
        admin.delete("/_admin/faults").raise_for_status()
        admin.post("/_admin/reset").raise_for_status()
    out: dict[str, list[Run]] = {}
    for name, spec in SPECS.items():
        cases = [c for c in CASES.values() if c.function == name]
        events = [render_event(c.path) for c in cases]
        artifacts = built_artifacts(spec, sam_build, lambda_runtime_dir)
        records, _logs = invoke_many(spec, artifacts, events, local_overrides)
        out[name] = list(zip(cases, events, records, strict=True))
    return out


@pytest.fixture(scope="module")
def answers(runs: dict[str, list[Run]]) -> dict[str, Run]:
    return {case.file: (case, event, record) for r in runs.values() for case, event, record in r}


@pytest.mark.parametrize("name", sorted(CASES))
def test_built_function_answers_each_event_as_the_manifest_says(name, answers):
    case, _event, record = answers[name]
    got = outcome(record)
    assert got == case.expect, json.dumps(record, default=str)[:2000]
    if case.code is not None:
        assert json.loads(record["response"]["body"])["error"]["code"] == case.code


def test_http_answers_carry_the_request_id_and_are_in_the_audit_trail(answers, audit_rows):
    for case, event, record in answers.values():
        if "routeKey" not in event:
            continue
        request_id = event["requestContext"]["requestId"]
        assert record["response"]["headers"]["x-request-id"] == request_id
        rows = audit_rows(request_id=request_id)
        assert rows, f"{case.file}: no audit row for {request_id}"
        assert {r["function_name"] for r in rows} == {case.function}


def test_direct_refusals_raise_the_error_step_functions_catches(answers):
    for case, _event, record in answers.values():
        if isinstance(case.expect, str) and case.expect != "ok":
            assert record["error"]["errorType"] == case.expect
            assert "Traceback" not in record["error"]["errorMessage"]


def test_only_a_containers_first_invocation_reports_an_init_duration(runs):
    for name, function_runs in runs.items():
        reports = [record["report"] for _case, _event, record in function_runs]
        assert isinstance(reports[0]["init_ms"], float), name
        assert [r["init_ms"] for r in reports[1:]] == [None] * (len(reports) - 1)
        assert all(r["duration_ms"] > 0 and r["max_memory_mb"] > 0 for r in reports)


def test_built_function_and_layer_fit_lambdas_unzipped_size_limit(sam_build: Path):
    # Lambda refuses a function whose code and layers exceed 250 MB unzipped.
    def size(path: Path) -> int:
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())

    layer = size(sam_build / "CommonLayer")
    for name in SPECS:
        assert size(sam_build / name) + layer < 250 * 1024 * 1024, name


def test_the_clean_process_sees_only_the_built_artifacts(
    sam_build: Path, lambda_runtime_dir: Path, tmp_path: Path
):
    """A probe function next to the built ones reports what its process can import."""
    probe_dir = tmp_path / "Probe"
    probe_dir.mkdir()
    (probe_dir / "app.py").write_text(
        textwrap.dedent(
            """
            import importlib.util, sys
            import insurance_agent, pydantic_core, psycopg, boto3

            def handler(event, context):
                return {
                    "sys_path": sys.path,
                    "files": {m.__name__: m.__file__ for m in
                              (insurance_agent, pydantic_core, psycopg, boto3)},
                    "dev_only": {n: importlib.util.find_spec(n) is not None
                                 for n in ("pytest", "devstack", "moto", "yaml", "uvicorn")},
                    "function_name": context.function_name,
                }
            """
        )
    )
    spec = FunctionSpec("Probe", probe_dir, "app.handler", ())
    layer = built_artifacts(SPECS["PolicyLookupFunction"], sam_build, lambda_runtime_dir)
    artifacts = Artifacts(probe_dir, layer.layer_paths, layer.runtime_paths)
    (record,), _ = invoke_many(spec, artifacts, [{}], {})
    answer = record["response"]
    assert answer["dev_only"] == dict.fromkeys(answer["dev_only"], False)
    for module in ("insurance_agent", "pydantic_core", "psycopg"):
        assert answer["files"][module].startswith(str(sam_build / "CommonLayer" / "python"))
    assert answer["files"]["boto3"].startswith(str(lambda_runtime_dir))
    outside = [
        p
        for p in answer["sys_path"]
        if not p.startswith((str(probe_dir), str(sam_build), str(lambda_runtime_dir)))
    ]
    # What is left is the interpreter's standard library, nothing of the project or its venv.
    assert outside
    assert not any(p.startswith(str(ROOT)) or "site-packages" in p for p in outside)
    assert answer["function_name"] == "Probe"


def test_built_layer_carries_the_locked_versions(sam_build: Path):
    installed = {
        p.name.split("-")[0].lower().replace("_", "-"): p.name.split("-")[1].removesuffix(".dist")
        for p in (sam_build / "CommonLayer" / "python").glob("*.dist-info")
    }
    pinned = _pins(ROOT / "layers" / "common" / "requirements.txt")
    assert pinned
    for name, version in pinned.items():
        assert installed.get(name) == version, (
            f"{name}: built {installed.get(name)}, pinned {version}"
        )
    assert "boto3" not in installed  # the Lambda runtime provides it


def _pins(requirements: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in requirements.read_text().splitlines():
        requirement, _, marker = line.partition(";")
        # Lambda is Linux CPython: a win32-only pin is not installed there.
        if requirement.strip() and not line.startswith("#") and "win32" not in marker:
            name, version = requirement.strip().split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_a_misconfigured_built_function_fails_every_invoke_naming_the_setting(
    sam_build: Path, lambda_runtime_dir: Path, local_overrides: dict[str, str]
):
    spec = SPECS["PolicyLookupFunction"]
    broken = {k: v for k, v in local_overrides.items() if k != "FASTAPI_INSURANCE_BASE_URL"}
    artifacts = built_artifacts(spec, sam_build, lambda_runtime_dir)

    records, logs = invoke_many(spec, artifacts, [{}, {}], broken)

    assert [outcome(r) for r in records] == ["ConfigurationError"] * 2
    assert "FASTAPI_INSURANCE_BASE_URL" in records[0]["error"]["errorMessage"]
    # The message names the setting, never a value: the key stays out of answers and logs.
    assert local_overrides["FASTAPI_INSURANCE_API_KEY"] not in json.dumps(records) + logs


def test_logging_the_event_works_in_built_functions_and_masks_the_token(
    sam_build: Path, lambda_runtime_dir: Path, local_overrides: dict[str, str], reference: Any
):
    """POWERTOOLS_LOGGER_LOG_EVENT=true (README's configuration) on the built artifacts: the
    layer masks the event through Powertools' data masking, whose jsonpath-ng dependency is an
    extra that the layer must ship itself. Each function answers as without the switch."""
    with reference.admin() as admin:
        admin.delete("/_admin/faults").raise_for_status()
    for name in ("PolicyLookupFunction", "ClaimCreateFunction", "ClaimSummaryFunction"):
        spec = SPECS[name]
        cases = [c for c in CASES.values() if c.function == name and c.file.endswith("_ok.json")]
        events = [render_event(c.path) for c in cases]
        artifacts = built_artifacts(spec, sam_build, lambda_runtime_dir)
        overrides = local_overrides | {"POWERTOOLS_LOGGER_LOG_EVENT": "true"}
        records, logs = invoke_many(spec, artifacts, events, overrides)
        assert [outcome(r) for r in records] == [c.expect for c in cases], logs[-3000:]
        logged = [json.loads(line) for line in logs.splitlines() if line.startswith('{"level"')]
        event_lines = [line for line in logged if isinstance(line.get("message"), dict)]
        assert len(event_lines) == len(events), name
        for event, line in zip(events, event_lines, strict=True):
            token = (event.get("headers") or {}).get("authorization")
            if token:
                assert token not in logs
                assert line["message"]["event"]["headers"]["authorization"] != token
