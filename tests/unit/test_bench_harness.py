"""The benchmark harness's logic that is not timing: parsing, baselines, events (no figures)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from concurrent.futures import ThreadPoolExecutor

from bench.cold import BASELINES, import_costs
from bench.discipline import read_log
from bench.stats import pct
from bench.warm import Clock, TimedPort
from bench.workload import direct_event, hello_event, http_event
from devstack.events import LambdaContext

IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 | json
import time:      2000 |       2000 |     pydantic.main
import time:      1000 |       3000 |   pydantic
import time:       500 |       3500 | insurance_agent.models
import time:      4000 |       4000 | psycopg
"""


def test_import_costs_leave_out_what_the_bootstrap_imported_and_group_by_package() -> None:
    costs = import_costs(IMPORTTIME, before={"json"})
    assert costs == {"pydantic": 3.0, "insurance_agent": 0.5, "psycopg": 4.0}


P = "2026-11-25 11:56:41.375 UTC"
SERVER_LOG = "\n".join(
    [
        f"{P} [3160] app=[unknown] LOG:  connection authorized: user=postgres database=audit "
        "application_name=insurance-agent-api",
        f"{P} [3160] app=insurance-agent-api LOG:  statement: ",
        f"{P} [3160] app=insurance-agent-api LOG:  execute <unnamed>: ",
        "\tINSERT INTO agent_interactions (id) VALUES ($1)",
        f"{P} [3160] app=insurance-agent-api DETAIL:  parameters: $1 = 'x'",
        f"{P} [3161] app=insurance-agent-api LOG:  execute _pg3_0: SELECT 1",
        f"{P} [3161] app=insurance-agent-api LOG:  statement: SET TIME ZONE 'UTC'",
        f"{P} [3162] app=watch LOG:  statement: SET work_mem = '1MB'",
    ]
)


def test_server_log_counts_connections_statements_prepares_and_session_commands() -> None:
    seen = read_log(SERVER_LOG)
    assert seen["connections"] == 1
    assert seen["statements"] == {"(empty: pool check)": 1, "INSERT": 1, "SELECT": 1, "SET": 1}
    assert seen["prepared"] == 1
    # Another application's SET is not the functions'.
    assert seen["session_commands"] == 1


def test_percentiles_interpolate_between_ranks() -> None:
    assert pct([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert pct([5.0], 99) == 5.0


def test_bench_events_carry_the_authorizer_claims_and_scopes() -> None:
    event = http_event("claim_summary", 3, "t")
    jwt = event["requestContext"]["authorizer"]["jwt"]
    assert jwt["claims"]["customer_id"] == event["headers"]["x-customer-id"] == "cust-7788"
    assert jwt["scopes"] == ["insurance/agent"]
    assert json.loads(event["body"])["claim_id"] == "CLM-000102"
    task = direct_event("claim_create", 1, "t")
    assert {"conversation_id", "customer_id", "idempotency_key", "amount_claimed"} <= set(task)
    assert (
        http_event("claim_create", 1)["headers"]["idempotency-key"]
        != (http_event("claim_create", 1)["headers"]["idempotency-key"])
    )


def _load_and_call_bare() -> dict[str, object]:
    # In a thread of its own, so the event loop Mangum needs is not the test session's.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        spec = importlib.util.spec_from_file_location("bench_bare", BASELINES / "bare.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        response: dict[str, object] = module.handler(hello_event(), LambdaContext())
        return response
    finally:
        loop.close()


def test_bare_baseline_loads_and_answers_hello() -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        response = pool.submit(_load_and_call_bare).result(timeout=60)
    assert response["statusCode"] == 200
    assert json.loads(str(response["body"])) == {"message": "hello"}


def test_a_port_called_inside_another_counts_only_once():
    class Upstream:
        def call(self) -> str:
            time.sleep(0.02)
            return "answer"

    clock = Clock()
    upstream = TimedPort(Upstream(), clock, "upstream")

    class Idempotency:
        def once(self) -> str:
            return upstream.call()

    assert TimedPort(Idempotency(), clock, "idempotency").once() == "answer"

    assert clock.wall_ms["upstream"] >= 20
    # The enclosing port keeps only its own time, so the parts add up to the whole.
    assert clock.wall_ms["idempotency"] < clock.wall_ms["upstream"] / 4
    assert clock.nested == []


def test_a_child_reports_its_own_peak_memory_not_its_parents():
    """ru_maxrss survives execve on Linux: a child of a large bench process would report the
    parent's peak. The bootstrap's figure is the child's own."""
    import subprocess
    import sys

    ballast = bytearray(200 * 1024 * 1024)
    ballast[::4096] = b"\x01" * len(ballast[::4096])  # touched: resident in this process
    probe = (
        "import resource; from devstack.lambda_bootstrap import peak_rss_kib; "
        "print(peak_rss_kib() // 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout.split()
    own, inherited = int(out[0]), int(out[1])
    assert inherited >= 200  # what the old figure would have said
    assert own < 150
    del ballast
