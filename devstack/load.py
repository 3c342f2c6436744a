"""Bounded load with faults: Lambda-like containers under load while Postgres restarts and the
upstream dies and comes back; then the answers are checked against the audit trail.

    python -m devstack.load [--requests 3000] [--containers 4]

Each container is a process holding one function's ``FunctionEntry`` (its own pool of one
connection and its own HTTP client), invoked with API Gateway HTTP API events, one at a time,
as Lambda does. The audit database lives in a private cluster this command starts (so it can
restart it); the reference service's data lives on the usual server. Faults are placed by
progress, not by the clock, so a slow machine sees the same run, only longer:
at 25 % of the requests Postgres is restarted (fast mode: every connection is dropped), at 55 %
the upstream is killed (SIGKILL) and restarted a moment later.

    python -m devstack.load --pgbouncer [--requests 3000]

puts PgBouncer in transaction pooling mode (the RDS Proxy stand-in, devstack/pgbouncer.py)
between Postgres and both the functions and the reference service, and restarts PgBouncer at
40 % of the requests too. The report then counts what a transaction pooler breaks (prepared
statements, transaction state) in PgBouncer's, Postgres's and the reference service's logs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import multiprocessing as mp
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg

from devstack import migrate
from devstack.dev_identity import agent_identity
from devstack.events import LambdaContext, http_api_event
from devstack.jwt_authorizer import gateway_claims
from devstack.pgbouncer import PgBouncer, pgbouncer, pooling_errors
from devstack.postgres import find_postgres, scratch_database
from devstack.private_postgres import PrivateCluster, private_cluster
from devstack.stack import ReferenceService, start_reference_service

if TYPE_CHECKING:
    from insurance_agent.entry import FunctionEntry

APPLICATION_NAME = "insurance-agent-api"  # what the functions' pool reports (database.py)
# One function per container, as in Lambda: two lookup containers, one of each other.
CONTAINER_FUNCTIONS = ("policy_lookup", "claim_summary", "claim_create", "policy_lookup")
PG_RESTART_AT = 0.25
PGBOUNCER_RESTART_AT = 0.40
UPSTREAM_KILL_AT = 0.55
UPSTREAM_DOWN_S = 1.0
# The requests come through the gateway's JWT authorizer as an agent's.
AGENT_CLAIMS = gateway_claims(agent_identity("load-agent"))


# -- one container ------------------------------------------------------------------------------


def _event(intent: str, worker: int, n: int, run: str) -> dict[str, Any]:
    conversation = f"load-{run}-w{worker}-{n // 25}"
    headers = {
        "X-Conversation-Id": conversation,
        "X-Customer-Id": "cust-7788",
        "Content-Type": "application/json",
    }
    request_id = f"{run}-{worker}-{n}"
    if intent == "policy_lookup":
        number = ("POL-10001", "POL-10002", "POL-10003")[n % 3]
        return http_api_event(
            "GET",
            f"/policies/{number}",
            route_key="GET /policies/{policy_number}",
            path_parameters={"policy_number": number},
            headers=headers,
            request_id=request_id,
            jwt_claims=AGENT_CLAIMS,
        )
    if intent == "claim_summary":
        body: dict[str, Any] = {"policy_number": ("POL-10002", "POL-10003")[n % 2]}
        return http_api_event(
            "POST",
            "/agent/claim-summary",
            route_key="POST /agent/claim-summary",
            headers=headers,
            body=json.dumps(body),
            request_id=request_id,
            jwt_claims=AGENT_CLAIMS,
        )
    body = {
        "policy_number": "POL-10001",
        "loss_date": (datetime.now(UTC).date() - timedelta(days=1)).isoformat(),
        "loss_type": "collision",
        "description": f"Load test claim {n}.",
        "amount_claimed": {"amount": "120.00", "currency": "USD"},
    }
    return claim_event(headers | {"Idempotency-Key": f"idem-{request_id}"}, body, request_id)


def claim_event(headers: dict[str, str], body: dict[str, Any], request_id: str) -> dict[str, Any]:
    return http_api_event(
        "POST",
        "/claims",
        route_key="POST /claims",
        headers=headers,
        body=json.dumps(body),
        request_id=request_id,
        jwt_claims=AGENT_CLAIMS,
    )


def new_container(intent: str, settings: dict[str, Any]) -> FunctionEntry:
    """A Lambda-like container in this process: a ``FunctionEntry`` with its own runtime (its
    own pool and HTTP client), logging only errors."""
    os.environ.update(
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="ERROR",
    )
    from insurance_agent.catalog import OPERATIONS
    from insurance_agent.entry import FunctionEntry
    from insurance_agent.runtime import ContainerRuntime
    from insurance_agent.settings import Settings

    return FunctionEntry(OPERATIONS[intent], ContainerRuntime(Settings(**settings)))


def container_main(
    worker: int,
    intent: str,
    settings: dict[str, Any],
    run: str,
    counter: Any,
    target: int,
    ready: Any,
    go: Any,
    results: Any,
) -> None:
    """A Lambda container: cold start once, then invocations until the run's target is met."""
    # Retries are expected under faults; the pool's connection errors stay visible.
    logging.getLogger("stamina").setLevel(logging.ERROR)
    entry = new_container(intent, settings)
    context = LambdaContext(function_name=f"load-{intent}")
    ready.release()
    go.wait()
    answers: list[tuple[float, int]] = []
    ok_request_ids: list[str] = []
    while True:
        with counter.get_lock():
            if counter.value >= target:
                break
            n = counter.value
            counter.value += 1
        event = _event(intent, worker, n, run)
        response = entry.handler(event, context)
        status = int(response["statusCode"])
        answers.append((time.time(), status))
        if 200 <= status < 300:
            ok_request_ids.append(event["requestContext"]["requestId"])
    database = entry.runtime.database
    results.put(
        {
            "worker": worker,
            "intent": intent,
            "pid": os.getpid(),
            "answers": answers,
            "ok_request_ids": ok_request_ids,
            "pool": database.stats() if database is not None else {},
        }
    )
    entry.runtime.close()


# -- watching Postgres --------------------------------------------------------------------------


@dataclass
class ConnectionWatch:
    """Polls pg_stat_activity for the functions' connections; survives the server's restart."""

    server_url: str
    database: str
    interval_s: float = 0.02
    peak: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> ConnectionWatch:
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _poll(self) -> None:
        sql = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = %s AND backend_type = 'client backend'"
        )
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self.server_url, autocommit=True, connect_timeout=1, application_name="watch"
                ) as conn:
                    while not self._stop.is_set():
                        row = conn.execute(sql, (APPLICATION_NAME, self.database)).fetchone()
                        self.samples += 1
                        self.peak = max(self.peak, int(row[0]) if row else 0)
                        self._stop.wait(self.interval_s)
            except psycopg.Error:
                self._stop.wait(0.1)  # the server is restarting


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Fault:
    name: str
    started: float = 0.0
    ended: float = 0.0


@dataclass
class LoadReport:
    requests: int
    containers: int
    elapsed_s: float
    answers_by_status: dict[int, int]
    audit_by_outcome: dict[str, int]  # "ok", "pending", "error UPSTREAM_UNAVAILABLE", ...
    two_xx_without_ok_row: list[str]
    ok_rows_without_two_xx: list[str]
    pending_without_result: int
    peak_connections: int
    connection_samples: int
    pids_unchanged: bool
    recovery_s: dict[str, float | None]
    answered_after_faults: dict[int, int]
    pools: dict[int, dict[str, int]]
    chains_verified: int
    chain_breaks: list[str]
    faults: list[Fault]
    # PgBouncer mode: what the transaction pooler broke, by log line.
    pgbouncer: bool = False
    pooling_errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        statuses = ", ".join(f"{s}: {c}" for s, c in sorted(self.answers_by_status.items()))
        outcomes = ", ".join(f"{o}: {c}" for o, c in sorted(self.audit_by_outcome.items()))
        recovery = ", ".join(
            f"{name} {'n/a' if s is None else f'{s:.2f}s'}" for name, s in self.recovery_s.items()
        )
        faults = ", ".join(f"{f.name} {f.ended - f.started:.2f}s" for f in self.faults)
        made = sum(p.get("connections_num", 0) for p in self.pools.values())
        return [
            f"requests:            {self.requests} by {self.containers} containers "
            f"in {self.elapsed_s:.1f}s ({self.requests / self.elapsed_s:.0f}/s)",
            f"answers by status:   {statuses}",
            f"audit rows:          {outcomes}",
            f"2xx without ok row:  {len(self.two_xx_without_ok_row)}",
            f"ok row without 2xx:  {len(self.ok_rows_without_two_xx)}",
            f"pending intents with no result: {self.pending_without_result}",
            f"faults (duration):   {faults}",
            f"recovery (fault end to every container's next 2xx): {recovery}",
            f"pools:               {made} connection attempts in {len(self.pools)} pools, "
            f"processes unchanged: {self.pids_unchanged}",
            f"peak connections:    {self.peak_connections} "
            f"(limit {self.containers}, {self.connection_samples} samples)",
            f"audit chains:        {self.chains_verified} verified, "
            f"{len(self.chain_breaks)} broken",
        ] + (
            [
                "pgbouncer:           transaction pooling in front of the functions and the "
                "reference service",
                f"prepared-statement / transaction-state errors: {len(self.pooling_errors)}",
            ]
            if self.pgbouncer
            else []
        )


def _recovery(answers: dict[int, list[tuple[float, int]]], after: float) -> float | None:
    """Seconds from ``after`` until the slowest container answered 2xx again."""
    worst = 0.0
    for worker_answers in answers.values():
        first = next((t for t, s in worker_answers if t >= after and 200 <= s < 300), None)
        if first is None:
            return None
        worst = max(worst, first - after)
    return worst


def _wait_progress(counter: Any, at: int, deadline: float) -> None:
    while counter.value < at and time.monotonic() < deadline:
        time.sleep(0.01)


def _audit_summary(url: str) -> tuple[dict[str, int], set[str], int]:
    with psycopg.connect(url) as conn:
        counted = conn.execute(
            "SELECT outcome || coalesce(' ' || error_code, ''), count(*) "
            "FROM agent_interactions GROUP BY 1"
        )
        outcomes: dict[str, int] = {str(o): int(n) for o, n in counted}
        selected = conn.execute("SELECT request_id FROM agent_interactions WHERE outcome = 'ok'")
        ok_ids = {str(r[0]) for r in selected}
        row = conn.execute(
            "SELECT count(*) FROM agent_interactions p WHERE p.outcome = 'pending' AND NOT "
            "EXISTS (SELECT FROM agent_interactions r WHERE r.intent_id = p.id)"
        ).fetchone()
    return outcomes, ok_ids, int(row[0]) if row else 0


def run_load(
    cluster: PrivateCluster,
    audit_url: str,
    reference: ReferenceService,
    *,
    requests: int = 3000,
    containers: int = 4,
    deadline_s: float = 150.0,
    progress: Callable[[str], None] = lambda _: None,
    bouncer: PgBouncer | None = None,
) -> LoadReport:
    from ops.verify import verify

    run = uuid.uuid4().hex[:8]
    settings = {
        "database_url": bouncer.url("audit", audit_url) if bouncer else audit_url,
        "fastapi_insurance_base_url": reference.url,
        "fastapi_insurance_api_key": reference.api_key,
        # Inside an outage answer fast (503/502) rather than hold the container.
        "db_pool_timeout_s": 1.0,
        "db_connect_timeout_s": 1.0,
        "upstream_connect_timeout_s": 0.5,
        "upstream_retry_budget_s": 1.0,
    }
    spawn = mp.get_context("spawn")
    counter = spawn.Value("i", 0)
    ready = spawn.Semaphore(0)
    go = spawn.Event()
    results = spawn.Queue()
    functions = [CONTAINER_FUNCTIONS[i % len(CONTAINER_FUNCTIONS)] for i in range(containers)]
    processes = [
        spawn.Process(
            target=container_main,
            args=(i, fn, settings, run, counter, requests, ready, go, results),
            daemon=True,
        )
        for i, fn in enumerate(functions)
    ]
    for p in processes:
        p.start()
    pids = {i: p.pid for i, p in enumerate(processes)}
    try:
        for _ in processes:
            if not ready.acquire(timeout=60):
                raise RuntimeError("a container did not start")
        progress(f"{containers} containers ready; {requests} requests")
        pg_fault, upstream_fault = Fault("postgres restart"), Fault("upstream kill+restart")
        bouncer_fault = Fault("pgbouncer restart")
        database = audit_url.rsplit("/", 1)[1]
        started = time.monotonic()
        deadline = started + deadline_s
        with ConnectionWatch(cluster.url, database) as watch:
            go.set()
            _wait_progress(counter, int(requests * PG_RESTART_AT), deadline)
            pg_fault.started = time.time()
            cluster.restart()
            pg_fault.ended = time.time()
            progress(f"postgres restarted at request {counter.value}")
            if bouncer is not None:
                _wait_progress(counter, int(requests * PGBOUNCER_RESTART_AT), deadline)
                bouncer_fault.started = time.time()
                bouncer.restart()
                bouncer_fault.ended = time.time()
                progress(f"pgbouncer restarted at request {counter.value}")
            _wait_progress(counter, int(requests * UPSTREAM_KILL_AT), deadline)
            upstream_fault.started = time.time()
            reference.process.kill()
            reference.process.wait(timeout=10)
            time.sleep(UPSTREAM_DOWN_S)
            reference.restart()
            upstream_fault.ended = time.time()
            progress(f"upstream killed and restarted at request {counter.value}")
            collected = [results.get(timeout=max(1.0, deadline - time.monotonic())) for _ in pids]
            elapsed = time.monotonic() - started
        for p in processes:
            p.join(timeout=10)
    finally:
        for p in processes:
            if p.is_alive():
                p.kill()
    by_worker = {r["worker"]: r for r in collected}
    answers = {w: r["answers"] for w, r in by_worker.items()}
    statuses = Counter(s for a in answers.values() for _, s in a)
    two_xx = {i for r in collected for i in r["ok_request_ids"]}
    outcomes, ok_ids, pending = _audit_summary(audit_url)
    verified = verify(audit_url)
    faults = [pg_fault, *([bouncer_fault] if bouncer else []), upstream_fault]
    broken: list[str] = []
    if bouncer is not None:
        logs = [bouncer.log_path, cluster.data_dir / "server.log", reference.log_path]
        broken = [
            f"{path.name}: {line}"
            for path in logs
            if path.exists()
            for line in pooling_errors(path.read_text(errors="replace"))
        ]
    return LoadReport(
        requests=sum(statuses.values()),
        containers=containers,
        elapsed_s=elapsed,
        answers_by_status=dict(statuses),
        audit_by_outcome=outcomes,
        two_xx_without_ok_row=sorted(two_xx - ok_ids),
        ok_rows_without_two_xx=sorted(ok_ids - two_xx),
        pending_without_result=pending,
        peak_connections=watch.peak,
        connection_samples=watch.samples,
        pids_unchanged=all(by_worker[w]["pid"] == pid for w, pid in pids.items()),
        recovery_s={
            "postgres": _recovery(answers, pg_fault.ended),
            **({"pgbouncer": _recovery(answers, bouncer_fault.ended)} if bouncer else {}),
            "upstream": _recovery(answers, upstream_fault.ended),
        },
        answered_after_faults={
            w: sum(1 for t, s in a if t >= upstream_fault.ended and 200 <= s < 300)
            for w, a in answers.items()
        },
        pools={w: r["pool"] for w, r in by_worker.items()},
        chains_verified=verified.chains,
        chain_breaks=[b.describe() for b in verified.breaks],
        faults=faults,
        pgbouncer=bouncer is not None,
        pooling_errors=broken,
    )


@contextlib.contextmanager
def load_stack(
    reference_server_url: str, *, with_pgbouncer: bool = False
) -> Iterator[tuple[PrivateCluster, str, ReferenceService, PgBouncer | None]]:
    """A private cluster holding the audit database, and a reference service on its own data;
    with PgBouncer, both the reference service and (through ``run_load``) the functions reach
    their databases through one PgBouncer in transaction mode."""
    name = f"ia_load_ref_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with contextlib.ExitStack() as stack:
        cluster = stack.enter_context(private_cluster())
        ref_url = stack.enter_context(scratch_database(reference_server_url, name))
        audit_url = cluster.create_database("audit")
        migrate.apply(audit_url, only="app")
        bouncer = None
        if with_pgbouncer:
            bouncer = stack.enter_context(pgbouncer({"audit": audit_url, "reference": ref_url}))
            # Seeded straight on the server (reset=True), then served through PgBouncer.
            start_reference_service(ref_url, reset=True).stop()
            reference = start_reference_service(bouncer.url("reference", ref_url))
        else:
            reference = start_reference_service(ref_url, reset=True)
        try:
            yield cluster, audit_url, reference, bouncer
        finally:
            reference.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--containers", type=int, default=4)
    parser.add_argument(
        "--pgbouncer",
        action="store_true",
        help="PgBouncer (transaction pooling, the RDS Proxy stand-in) in front of Postgres",
    )
    args = parser.parse_args(argv)
    found = find_postgres()
    try:
        with load_stack(found.url, with_pgbouncer=args.pgbouncer) as (
            cluster,
            audit_url,
            reference,
            bouncer,
        ):
            report = run_load(
                cluster,
                audit_url,
                reference,
                requests=args.requests,
                containers=args.containers,
                progress=lambda line: print(f"... {line}", flush=True),
                bouncer=bouncer,
            )
    finally:
        found.stop()
    for line in report.lines():
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
