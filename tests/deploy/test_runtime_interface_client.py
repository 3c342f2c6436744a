"""The built artifacts under AWS's own runtime interface client.

Each execution environment is what Lambda's Python runtime runs: ``python -m awslambdaric
app.handler`` polling a Runtime API (devstack/runtime_api.py, real HTTP on loopback), with the
built function copied to ``var/task``, the built layer to ``opt`` and the runtime's packages
(awslambdaric, boto3 & co.) in ``var/runtime``, all read-only, ``PYTHONPATH`` in Lambda's order.
Nothing of the source tree or the dev environment is importable.

It checks: every events/ file answers as events/expected.json says; every switch of README's
configuration table changes what it should; a failed init is reported on
``/runtime/init/error`` with its ``errorType`` and answered the way Lambda answers it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devstack.invoke import (
    load_manifest,
    outcome,
    render_event,
)
from devstack.runtime_api import ExecutionEnvironment
from devstack.template import ROOT, functions

# One sam build and several cold starts per module: longer than the suite's default timeout.
pytestmark = pytest.mark.timeout(900)

CASES = load_manifest()
SPECS = functions()
Environment = Callable[..., Any]


@pytest.fixture
def seeded(reference: Any) -> Any:
    with reference.admin() as admin:
        admin.delete("/_admin/faults").raise_for_status()
        admin.post("/_admin/reset").raise_for_status()
    yield reference
    with reference.admin() as admin:
        admin.delete("/_admin/faults")


# -- the manifest ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifest_answers(
    lambda_environment: Environment, base_env: dict[str, str], reference: Any
) -> dict[str, tuple[Any, dict[str, Any]]]:
    with reference.admin() as admin:
        admin.delete("/_admin/faults").raise_for_status()
        admin.post("/_admin/reset").raise_for_status()
    answers: dict[str, tuple[Any, dict[str, Any]]] = {}
    for name in {case.function for case in CASES.values()}:
        with lambda_environment(name, base_env) as fn:
            for case in (c for c in CASES.values() if c.function == name):
                event = render_event(case.path)
                answers[case.file] = (event, fn.invoke(event).record)
    return answers


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_event_answers_under_awslambdaric_as_the_manifest_says(name, manifest_answers):
    case = CASES[name]
    _event, record = manifest_answers[name]
    assert outcome(record) == case.expect, json.dumps(record)[:2000]
    if case.code is not None:
        assert json.loads(record["response"]["body"])["error"]["code"] == case.code


def test_the_runtime_sees_lambdas_layout_read_only_and_nothing_of_the_project(
    lambda_environment: Environment, tmp_path: Path, sam_build: Path
):
    """A probe handler in the built function's place reports what its process sees."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import importlib.util, os, sys\n"
        "import awslambdaric, insurance_agent, psycopg, boto3\n"
        "def handler(event, context):\n"
        "    task = os.environ['LAMBDA_TASK_ROOT']\n"
        "    try:\n"
        "        open(os.path.join(task, 'written'), 'w').close()\n"
        "        writable = True\n"
        "    except OSError:\n"
        "        writable = False\n"
        "    return {\n"
        "        'files': {m.__name__: m.__file__ for m in\n"
        "                  (awslambdaric, insurance_agent, psycopg, boto3)},\n"
        "        'sys_path': sys.path, 'task': task, 'task_writable': writable,\n"
        "        'dev_only': {n: importlib.util.find_spec(n) is not None\n"
        "                     for n in ('pytest', 'devstack', 'moto', 'yaml', 'uvicorn')},\n"
        "        'request_id': context.aws_request_id,\n"
        "        'arn': context.invoked_function_arn,\n"
        "        'remaining_ms': context.get_remaining_time_in_millis(),\n"
        "        'custom': context.client_context.custom if context.client_context else None,\n"
        "        'identity': context.identity.cognito_identity_id,\n"
        "        'trace': os.environ.get('_X_AMZN_TRACE_ID'),\n"
        "    }\n"
    )
    # The probe sits in the built function's directory (copied, then made read-only).
    function_dir = sam_build / "PolicyLookupFunction"
    (function_dir / "probe.py").write_bytes(probe.read_bytes())
    try:
        with lambda_environment("PolicyLookupFunction", {}, handler="probe.handler") as fn:
            answer = fn.invoke(
                {},
                client_context={"custom": {"bedrockAgentCoreToolName": "policy-lookup___x"}},
                cognito_identity={"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "p"},
                qualifier="live",
            )
            requests = list(fn.api.requests)
            root = fn.mounts.root
    finally:
        (function_dir / "probe.py").unlink()
    assert answer.function_error is None, answer.payload
    seen = answer.payload
    assert seen["files"]["awslambdaric"].startswith(str(root / "var" / "runtime"))
    assert seen["files"]["boto3"].startswith(str(root / "var" / "runtime"))
    for module in ("insurance_agent", "psycopg"):
        assert seen["files"][module].startswith(str(root / "opt" / "python"))
    assert seen["task"] == str(root / "var" / "task")
    assert seen["task_writable"] is False
    assert seen["dev_only"] == dict.fromkeys(seen["dev_only"], False)
    assert not any(p.startswith(str(ROOT)) for p in seen["sys_path"])
    # The Runtime API's headers reached the context the way Lambda's do.
    assert seen["arn"].endswith(":function:PolicyLookupFunction:live")
    assert 0 < seen["remaining_ms"] <= SPECS["PolicyLookupFunction"].timeout_s * 1000
    assert seen["custom"] == {"bedrockAgentCoreToolName": "policy-lookup___x"}
    assert seen["identity"] == "id-1"
    assert seen["trace"].startswith("Root=1-")
    assert ("GET", "/2018-06-01/runtime/invocation/next") in requests
    assert any(m == "POST" and p.endswith("/response") for m, p in requests)


# -- init failures -----------------------------------------------------------------------------


def test_a_missing_setting_fails_init_on_the_init_error_endpoint_naming_it(
    lambda_environment: Environment, base_env: dict[str, str]
):
    broken = {k: v for k, v in base_env.items() if k != "FASTAPI_INSURANCE_BASE_URL"}
    with lambda_environment("PolicyLookupFunction", broken) as fn:
        answer = fn.invoke(render_event(CASES["policy_lookup_ok.json"].path))
        requests = list(fn.api.requests)
        exit_code = fn.process.wait(timeout=10) if fn.process else None
        logs = fn.logs
    assert ("POST", "/2018-06-01/runtime/init/error") in requests
    # No invocation was ever fetched: init failed before the runtime asked for one.
    assert ("GET", "/2018-06-01/runtime/invocation/next") not in requests
    assert answer.function_error == "Unhandled"
    assert answer.error_type == "ConfigurationError"
    assert answer.payload["errorType"] == "ConfigurationError"
    assert "FASTAPI_INSURANCE_BASE_URL" in answer.payload["errorMessage"]
    assert exit_code == 1  # awslambdaric exits after reporting; Lambda starts a new one
    assert base_env["FASTAPI_INSURANCE_API_KEY"] not in json.dumps(answer.payload) + logs


def test_a_handler_that_cannot_be_imported_is_reported_as_lambda_reports_it(
    lambda_environment: Environment, base_env: dict[str, str]
):
    with lambda_environment("PolicyLookupFunction", base_env, handler="nope.handler") as fn:
        answer = fn.invoke({})
    assert answer.error_type == "Runtime.ImportModuleError"
    assert answer.payload["errorMessage"].startswith("Unable to import module 'nope'")


# -- README's configuration table, each switch through the built function ---------------------


def http(case: str, **changes: Any) -> dict[str, Any]:
    event = render_event(CASES[case].path)
    for key, value in changes.items():
        event[key] = value
    return event


def status(answer: Any) -> int:
    assert answer.function_error is None, answer.payload
    return int(answer.payload["statusCode"])


def error_code(answer: Any) -> str:
    return str(json.loads(answer.payload["body"])["error"]["code"])


def log_lines(logs: str) -> list[dict[str, Any]]:
    out = []
    for line in logs.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def test_database_url_and_the_upstream_settings_serve_a_request(
    lambda_environment: Environment, base_env: dict[str, str], seeded: Any, audit_rows: Any
):
    """DATABASE_URL, FASTAPI_INSURANCE_BASE_URL, FASTAPI_INSURANCE_API_KEY: the plain setup."""
    with lambda_environment("PolicyLookupFunction", base_env) as fn:
        answer = fn.invoke(http("policy_lookup_ok.json"))
    assert status(answer) == 200
    request_id = json.loads(json.dumps(answer.payload["headers"]))["x-request-id"]
    assert audit_rows(request_id=request_id)


def test_a_wrong_upstream_key_is_refused_upstream_and_answered_502(
    lambda_environment: Environment, base_env: dict[str, str], seeded: Any
):
    with lambda_environment(
        "PolicyLookupFunction", base_env | {"FASTAPI_INSURANCE_API_KEY": "not-the-key"}
    ) as fn:
        answer = fn.invoke(http("policy_lookup_ok.json"))
    assert status(answer) >= 500
    assert "not-the-key" not in json.dumps(answer.payload) + fn.logs


def test_the_upstream_key_from_secrets_manager(
    lambda_environment: Environment, base_env: dict[str, str], seeded: Any
):
    """FASTAPI_INSURANCE_API_KEY_SECRET: boto3 in the runtime reads moto's Secrets Manager
    over HTTP (moto server), and the key works upstream."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        aws = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": "us-east-1",
        }
        secrets = boto3.client(
            "secretsmanager",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        name = f"insurance-agent/test/upstream-api-key-{uuid.uuid4().hex[:8]}"
        secrets.create_secret(Name=name, SecretString=base_env["FASTAPI_INSURANCE_API_KEY"])
        env = {k: v for k, v in base_env.items() if k != "FASTAPI_INSURANCE_API_KEY"}
        env |= aws | {
            "FASTAPI_INSURANCE_API_KEY_SECRET": name,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint,
        }
        with lambda_environment("PolicyLookupFunction", env) as fn:
            first = fn.invoke(http("policy_lookup_ok.json"))
            second = fn.invoke(http("policy_lookup_ok.json"))
            logs = fn.logs
    finally:
        server.stop()
    assert status(first) == 200, logs[-2000:]
    assert status(second) == 200
    assert base_env["FASTAPI_INSURANCE_API_KEY"] not in json.dumps(first.payload) + logs


def test_db_iam_auth_mints_a_token_and_connects_with_host_port_name_user_and_sslmode(
    lambda_environment: Environment,
    base_env: dict[str, str],
    database_url: str,
    seeded: Any,
    audit_rows: Any,
):
    """DB_IAM_AUTH=true with DB_HOST/DB_PORT/DB_NAME/DB_USER/DB_SSLMODE: boto3 in the runtime
    signs an RDS auth token (locally, no AWS call) used as the password; the local Postgres
    trusts loopback, so the connection shows the host, port, name and user were used."""
    from urllib.parse import urlsplit

    url = urlsplit(database_url)
    env = {k: v for k, v in base_env.items() if k != "DATABASE_URL"} | {
        "DB_IAM_AUTH": "true",
        "DB_HOST": url.hostname or "127.0.0.1",
        "DB_PORT": str(url.port or 5432),
        "DB_NAME": url.path.lstrip("/"),
        "DB_USER": url.username or "postgres",
        "DB_SSLMODE": "disable",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    with lambda_environment("PolicyLookupFunction", env) as fn:
        answer = fn.invoke(http("policy_lookup_ok.json"))
        logs = fn.logs
    assert status(answer) == 200, logs[-2000:]
    assert audit_rows(request_id=answer.payload["headers"]["x-request-id"])
    # A wrong DB_NAME really is used: the same setup against a database that is not there.
    with lambda_environment("PolicyLookupFunction", env | {"DB_NAME": "no_such_database"}) as fn:
        refused = fn.invoke(http("policy_lookup_ok.json"))
    assert status(refused) == 503
    assert error_code(refused) == "AUDIT_UNAVAILABLE"


def test_db_timeouts_bound_the_wait_for_an_unreachable_database(
    lambda_environment: Environment, base_env: dict[str, str], seeded: Any
):
    """DB_CONNECT_TIMEOUT_S and DB_POOL_TIMEOUT_S: a 503 within their sum, not the 10 s
    function timeout. 192.0.2.1 (TEST-NET-1) never answers."""
    env = base_env | {
        "DATABASE_URL": "postgresql://postgres@192.0.2.1:5432/postgres?connect_timeout=1",
        "DB_CONNECT_TIMEOUT_S": "0.5",
        "DB_POOL_TIMEOUT_S": "0.8",
    }
    with lambda_environment("PolicyLookupFunction", env) as fn:
        fn.invoke(http("policy_lookup_ok.json"))  # the cold start and first import
        answer = fn.invoke(http("policy_lookup_ok.json"))
    assert status(answer) == 503
    assert error_code(answer) == "AUDIT_UNAVAILABLE"
    assert answer.duration_ms < 4000


def upstream_calls(reference: Any, route: str) -> int:
    with reference.admin() as admin:
        return int(admin.get("/_admin/stats").json()["routes"].get(route, 0))


def reset_upstream(reference: Any, *faults: dict[str, Any]) -> None:
    with reference.admin() as admin:
        admin.delete("/_admin/faults").raise_for_status()
        admin.post("/_admin/stats/reset").raise_for_status()
        for fault in faults:
            admin.post("/_admin/faults", json=fault).raise_for_status()


POLICY_ROUTE = "GET /v1/policies/POL-10001"


def warm_up(fn: ExecutionEnvironment) -> None:
    """Pay the cold start and the HTTP door's first import with a request that never goes
    upstream (refused at validation), so durations below measure what the settings bound."""
    assert status(fn.invoke(http("policy_lookup_bad_policy_number.json"))) == 422


def test_upstream_read_timeout_cuts_a_slow_answer_off_without_retrying_it(
    lambda_environment: Environment, base_env: dict[str, str], seeded: Any
):
    """UPSTREAM_READ_TIMEOUT_S: 504 after it, not after the upstream's 1.5 s."""
    with lambda_environment(
        "PolicyLookupFunction", base_env | {"UPSTREAM_READ_TIMEOUT_S": "0.3"}
    ) as fn:
        warm_up(fn)
        reset_upstream(seeded, {"path_prefix": "/v1/policies/", "delay_s": 1.5, "times": 3})
        answer = fn.invoke(http("policy_lookup_ok.json"))
    assert status(answer) == 504
    assert error_code(answer) == "UPSTREAM_TIMEOUT"
    assert answer.duration_ms < 1200


def test_upstream_connect_timeout_bounds_an_unreachable_upstream(
    lambda_environment: Environment, base_env: dict[str, str], seeded: Any
):
    """UPSTREAM_CONNECT_TIMEOUT_S: 192.0.2.1 (TEST-NET-1) never answers a SYN."""
    env = base_env | {
        "FASTAPI_INSURANCE_BASE_URL": "http://192.0.2.1:8080",
        "UPSTREAM_CONNECT_TIMEOUT_S": "0.3",
        "UPSTREAM_RETRY_ATTEMPTS": "1",
    }
    with lambda_environment("PolicyLookupFunction", env) as fn:
        warm_up(fn)
        answer = fn.invoke(http("policy_lookup_ok.json"))
    assert status(answer) in (502, 503, 504)
    assert answer.duration_ms < 1500


def test_upstream_retry_attempts_and_budget(
    lambda_environment: Environment, base_env: dict[str, str], seeded: Any
):
    """UPSTREAM_RETRY_ATTEMPTS: exactly that many calls while upstream answers 503;
    UPSTREAM_RETRY_BUDGET_S: fewer when the budget runs out first."""
    unavailable = {"path_prefix": "/v1/policies/", "status": 503, "times": 20}
    with lambda_environment(
        "PolicyLookupFunction", base_env | {"UPSTREAM_RETRY_ATTEMPTS": "2"}
    ) as fn:
        warm_up(fn)
        reset_upstream(seeded, unavailable)
        answer = fn.invoke(http("policy_lookup_ok.json"))
    assert status(answer) in (502, 503)
    assert upstream_calls(seeded, POLICY_ROUTE) == 2
    env = base_env | {"UPSTREAM_RETRY_ATTEMPTS": "10", "UPSTREAM_RETRY_BUDGET_S": "0.05"}
    with lambda_environment("PolicyLookupFunction", env) as fn:
        warm_up(fn)
        reset_upstream(seeded, unavailable)
        answer = fn.invoke(http("policy_lookup_ok.json"))
    assert status(answer) in (502, 503)
    assert 1 <= upstream_calls(seeded, POLICY_ROUTE) < 10


def test_max_body_bytes_refuses_a_larger_body(
    lambda_environment: Environment, base_env: dict[str, str], seeded: Any
):
    event = http("claim_create_ok.json")
    assert len(event["body"]) > 200
    with lambda_environment("ClaimCreateFunction", base_env | {"MAX_BODY_BYTES": "200"}) as fn:
        answer = fn.invoke(event)
    assert status(answer) == 413


def test_idempotency_ttl_replays_within_it_and_not_after(
    lambda_environment: Environment, base_env: dict[str, str], seeded: Any
):
    """IDEMPOTENCY_TTL_S=2: a repeat within it is answered from the store (upstream not
    called); after it the function files upstream again (upstream dedups by key itself).
    Powertools truncates the expiry to whole seconds, so a TTL of 1 s can end a moment after
    the first answer: 2 s leaves the repeat at least one."""
    event = http("claim_create_ok.json")
    with lambda_environment("ClaimCreateFunction", base_env | {"IDEMPOTENCY_TTL_S": "2"}) as fn:
        reset_upstream(seeded)
        first = fn.invoke(event)
        replay = fn.invoke(event)
        calls_within = upstream_calls(seeded, "POST /v1/claims")
        time.sleep(2.5)
        after = fn.invoke(event)
        calls_after = upstream_calls(seeded, "POST /v1/claims")
    assert status(first) == 201
    assert json.loads(replay.payload["body"]) == json.loads(first.payload["body"])
    assert calls_within == 1
    assert status(after) in (200, 201)
    assert calls_after == 2


def test_powertools_service_level_and_metrics_namespace(
    lambda_environment: Environment, base_env: dict[str, str], seeded: Any
):
    """POWERTOOLS_SERVICE_NAME names the log lines, POWERTOOLS_METRICS_NAMESPACE the EMF
    blobs; POWERTOOLS_LOG_LEVEL=ERROR silences the INFO event line and the WARNING a 5xx
    answer logs, which INFO lets through."""
    env = base_env | {
        "POWERTOOLS_SERVICE_NAME": "svc-under-test",
        "POWERTOOLS_METRICS_NAMESPACE": "NamespaceUnderTest",
        "POWERTOOLS_METRICS_DISABLED": "false",
        "POWERTOOLS_LOGGER_LOG_EVENT": "true",
        "UPSTREAM_RETRY_ATTEMPTS": "1",
    }
    refused = http("policy_lookup_ok.json")
    unavailable = {"path_prefix": "/v1/policies/", "status": 503, "times": 5}
    with lambda_environment("PolicyLookupFunction", env | {"POWERTOOLS_LOG_LEVEL": "INFO"}) as fn:
        reset_upstream(seeded, unavailable)
        assert status(fn.invoke(refused)) in (502, 503)
        loud = log_lines(fn.logs)
    with lambda_environment("PolicyLookupFunction", env | {"POWERTOOLS_LOG_LEVEL": "ERROR"}) as fn:
        reset_upstream(seeded, unavailable)
        assert status(fn.invoke(refused)) in (502, 503)
        quiet = log_lines(fn.logs)
    levelled = [line for line in loud if "level" in line]
    assert {line["level"] for line in levelled} >= {"INFO", "WARNING"}
    assert {line["service"] for line in levelled} == {"svc-under-test"}
    emf = [line for line in loud if "_aws" in line]
    assert emf
    assert {d["Namespace"] for blob in emf for d in blob["_aws"]["CloudWatchMetrics"]} == {
        "NamespaceUnderTest"
    }
    # The 5xx is counted for the ServerErrors alarm (template.yaml), with its dimensions.
    # ... and it is the only EMF line: no metric of ours per invocation (Lambda's own count it).
    (server_error,) = emf
    assert "ServerErrors" in server_error
    assert server_error["function_name"] == "PolicyLookupFunction"
    assert server_error["service"] == "svc-under-test"
    assert [line for line in quiet if "level" in line] == []
    assert [line for line in quiet if "_aws" in line]  # metrics are not log levels


def test_tracing_switched_on(
    lambda_environment: Environment, base_env: dict[str, str], seeded: Any
):
    """POWERTOOLS_TRACE_DISABLED=false: the function still answers (with or without the X-Ray
    SDK in the layer, the switch must not take the function down)."""
    env = base_env | {"POWERTOOLS_TRACE_DISABLED": "false"}
    with lambda_environment("PolicyLookupFunction", env) as fn:
        answer = fn.invoke(http("policy_lookup_ok.json"))
        logs = fn.logs
    assert status(answer) == 200, logs[-3000:]


def test_logging_the_event_masks_it(
    lambda_environment: Environment, base_env: dict[str, str], seeded: Any
):
    """POWERTOOLS_LOGGER_LOG_EVENT=true (README "Redaction"): logged, credentials masked."""
    event = http("policy_lookup_ok.json")
    token = event["headers"]["authorization"]
    env = base_env | {"POWERTOOLS_LOGGER_LOG_EVENT": "true"}
    with lambda_environment("PolicyLookupFunction", env) as fn:
        answer = fn.invoke(event)
        logs = fn.logs
    assert status(answer) == 200, logs[-3000:]
    logged = [line for line in log_lines(logs) if isinstance(line.get("message"), dict)]
    assert logged
    assert logged[0]["message"]["event"]["rawPath"] == event["rawPath"]
    assert token not in logs
