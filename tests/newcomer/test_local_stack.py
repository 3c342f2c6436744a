"""What a newcomer expects of `make run` beyond the three routes: an API page that works in a
real browser, a health route, a request log, refusals that explain themselves, one-line
messages instead of tracebacks, and `make reset`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import httpx
import psycopg

from devstack.pg_urls import database_of, with_database
from devstack.postgres import FoundPostgres, scratch_database
from devstack.stack import ROOT, free_port, start_reference_service
from devstack.template import functions
from tests.newcomer.conftest import RunningStack, start_run, stop_run, wait_ready

BROWSER_SCRIPT = ROOT / "tools" / "browser" / "try-docs.mjs"
PLAYWRIGHT = ROOT / "tools" / "browser" / "node_modules" / "playwright-core"


def token(stack: RunningStack, *args: str) -> str:
    done = subprocess.run(
        ["make", "-s", "token", *args],
        cwd=ROOT,
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_the_api_page_lists_every_route_with_the_bearer_scheme(running_stack):
    doc = httpx.get(f"{running_stack.url}/openapi.json", timeout=30).json()
    operations = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert operations == {
        ("GET", "/policies/{policy_number}"),
        ("POST", "/claims"),
        ("POST", "/claims/{claim_id}/decisions"),
        ("POST", "/agent/claim-summary"),
        ("POST", "/agent/coverage-check"),
    }
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert doc["security"] == [{"bearer": []}]
    page = httpx.get(f"{running_stack.url}/docs", timeout=30)
    assert page.status_code == 200
    assert "swagger-ui" in page.text
    assert "cdn" not in page.text.lower()  # served from the wheel: no internet needed


def test_a_call_made_from_the_api_page_in_chromium_returns_200(running_stack, tmp_path):
    """Debian's Chromium, driven by playwright-core: the page loads, lists three operations,
    and "Try it out" with a customer's token answers 200 with the policy."""
    assert PLAYWRIGHT.exists(), "run `make test` (it installs tools/browser's node_modules)"
    shot = tmp_path / "docs.png"
    bearer = token(running_stack, "CUSTOMER=cust-7788")
    done = subprocess.run(
        ["node", str(BROWSER_SCRIPT), running_stack.url, bearer, str(shot)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(seen["operations"]) == [
        "GET /policies/{policy_number}",
        "POST /agent/claim-summary",
        "POST /agent/coverage-check",
        "POST /claims",
        "POST /claims/{claim_id}/decisions",
    ]
    assert seen["status"] == 200
    assert json.loads(seen["body"])["policy_number"] == "POL-10001"
    assert shot.stat().st_size > 10_000
    # The call went through the gateway like any other: it is in the request log.
    running_stack.wait_for_line("GET /policies/POL-10001 200")


def test_make_run_uses_the_database_database_url_names(running_stack):
    assert f"; database {database_of(running_stack.database_url)}" in running_stack.output
    with psycopg.connect(running_stack.database_url) as conn:
        migrated = conn.execute("SELECT to_regclass('agent_interactions')").fetchone()
    assert migrated == ("agent_interactions",)


def test_health_reports_database_upstream_and_functions(running_stack):
    answer = httpx.get(f"{running_stack.url}/health", timeout=10)
    assert answer.status_code == 200
    assert answer.json() | {"upstream_url": None} == {
        "status": "ok",
        "database": "ok",
        "upstream": "ok",
        "upstream_url": None,
        # Every function template.yaml declares, loaded as Lambda would load it.
        "functions": list(functions()),
    }


def test_every_request_is_logged_with_status_request_id_and_principal(running_stack):
    bearer = token(running_stack, "AGENT=1")
    answer = httpx.get(
        f"{running_stack.url}/policies/POL-10001",
        headers={
            "Authorization": f"Bearer {bearer}",
            "X-Conversation-Id": "conv-log",
            "X-Customer-Id": "cust-7788",
        },
        timeout=30,
    )
    assert answer.status_code == 200
    line = running_stack.wait_for_line(f"request={answer.headers['x-request-id']}")
    assert line.startswith("GET /policies/POL-10001 200 ")
    assert "ms" in line
    assert "principal=agent:dev-agent" in line


def test_a_401_is_logged_with_its_reason(running_stack):
    answer = httpx.get(
        f"{running_stack.url}/policies/POL-10001",
        headers={"Authorization": "Bearer not.a.token", "X-Conversation-Id": "conv-401"},
        timeout=10,
    )
    assert answer.status_code == 401
    line = running_stack.wait_for_line("GET /policies/POL-10001 401")
    assert 'refused="invalid token: DecodeError"' in line


def test_a_bad_identifier_is_refused_with_its_format_in_words(running_stack):
    bearer = token(running_stack, "CUSTOMER=cust-7788")
    answer = httpx.get(
        f"{running_stack.url}/policies/edge-1",
        headers={"Authorization": f"Bearer {bearer}", "X-Conversation-Id": "conv-ids"},
        timeout=30,
    )
    assert answer.status_code == 422
    messages = [e["message"] for e in answer.json()["error"]["details"]["errors"]]
    assert "policy numbers look like POL-10001 (POL- and 5 to 10 digits)" in messages


def run_devstack(module: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_second_make_run_says_in_one_line_that_the_port_is_taken(running_stack, tmp_path):
    done = run_devstack(
        "devstack.run",
        *("--port", str(running_stack.port), "--reference-port", str(free_port())),
        env={"DEVSTACK_STATE_DIR": str(tmp_path)},
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"make run: port {running_stack.port} on 127.0.0.1 is taken (another `make run`?); "
        "choose another with `make run PORT=<port>` (--port <port>)"
    ]
    assert "Traceback" not in done.stdout + done.stderr


def test_make_run_takes_its_ports_from_make_variables():
    done = subprocess.run(
        ["make", "-n", "run", "PORT=3100", "REFERENCE_PORT=8181"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "devstack.run --port 3100 --reference-port 8181" in done.stdout


def test_a_pg_discovery_typo_is_named(tmp_path):
    done = run_devstack(
        "devstack.run",
        *("--port", str(free_port()), "--reference-port", str(free_port())),
        env={"DEVSTACK_STATE_DIR": str(tmp_path), "PG_DISCOVERY": "local,embeded"},
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "make run: PG_DISCOVERY: unknown step 'embeded'; "
        "use any of url,local,docker,embedded (comma-separated)"
    )


def test_make_reset_drops_the_local_database_and_says_so(pg_server: FoundPostgres, tmp_path):
    name = f"ia_reset_{uuid.uuid4().hex[:8]}"
    with scratch_database(pg_server.url, name) as url:
        env = {"DATABASE_URL": url, "PG_DISCOVERY": "url", "DEVSTACK_STATE_DIR": str(tmp_path)}
        (tmp_path / "stack.env").write_text("DATABASE_URL='x'\n")
        refused = run_devstack("devstack.reset", env=env)
        assert (refused.returncode, "stop `make run` first") == (
            2,
            refused.stdout.split(": ")[-1].strip(),
        )
        (tmp_path / "stack.env").unlink()

        done = run_devstack("devstack.reset", env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"reset: dropped database {name} on DATABASE_URL")
        assert "audit trail" in done.stdout
        with psycopg.connect(with_database(url, "postgres")) as conn:
            assert (
                conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
                is None
            )
        again = run_devstack("devstack.reset", env=env)
        assert again.stdout.startswith(f"reset: nothing to do, database {name} does not exist")


def test_a_stopped_reference_service_leaves_no_empty_log(database_url):
    service = start_reference_service(database_url)
    log = service.log_path
    assert log.exists()
    service.stop()
    assert not log.exists() or log.read_bytes(), f"{log} left empty"


def test_make_run_calls_your_own_upstream(run_database, fresh_reference, tmp_path):
    """UPSTREAM_URL and UPSTREAM_API_KEY point the functions at another insurance API: here a
    second reference service (the session's), which must see the call."""
    stack = start_run(
        run_database,
        tmp_path,
        extra_env={
            "UPSTREAM_URL": fresh_reference.url,
            "UPSTREAM_API_KEY": fresh_reference.api_key,
        },
    )
    try:
        wait_ready(stack)
        assert f"upstream: {fresh_reference.url} (UPSTREAM_URL" in stack.output
        health = httpx.get(f"{stack.url}/health", timeout=10).json()
        assert health["upstream_url"] == fresh_reference.url
        answer = httpx.get(
            f"{stack.url}/policies/POL-20001",
            headers={
                "Authorization": f"Bearer {token(stack, 'CUSTOMER=cust-9001')}",
                "X-Conversation-Id": "conv-own-upstream",
            },
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        with fresh_reference.admin() as admin:
            stats = admin.get("/_admin/stats").json()
        assert stats["routes"].get("GET /v1/policies/POL-20001"), stats
    finally:
        stop_run(stack)
