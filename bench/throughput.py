"""Audit throughput: K container processes writing interactions at once.

Each process is a container: the layer's ``Database`` (one pooled connection) and
``PostgresAuditStore`` writing ``AuditEntry`` rows as the operations do, in a conversation of
its own (the hash chain locks per conversation), as fast as it can for a fixed time. The
server's sessions of the functions are sampled meanwhile (``devstack.load.ConnectionWatch``):
K containers must mean K connections.
"""

from __future__ import annotations

import multiprocessing as mp
import time
import uuid
from typing import Any

from bench.stats import pct
from devstack.load import ConnectionWatch
from devstack.stack import Stack


def container(
    index: int, settings: dict[str, Any], run: str, seconds: float, ready: Any, go: Any, out: Any
) -> None:
    from insurance_agent.audit import PostgresAuditStore
    from insurance_agent.database import Database
    from insurance_agent.ports import AuditEntry
    from insurance_agent.settings import Settings

    database = Database(Settings(**settings))
    store = PostgresAuditStore(database)
    entry = AuditEntry(
        intent="policy_lookup",
        outcome="ok",
        payload={"policy_number": "POL-10001"},
        result={"policy_number": "POL-10001", "status": "active"},
        request_id=f"tp-{run}-{index}",
        function_name="throughput",
        channel="direct",
        conversation_id=f"tp-{run}-{index}",
        customer_id="cust-7788",
        duration_ms=1.5,
    )
    store.record(entry)  # connect before the clock starts, as a warm container has
    ready.release()
    go.wait()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        store.record(entry)
        latencies.append((time.perf_counter() - started) * 1000)
    out.put(latencies)
    database.close()


def measure(stack: Stack, k: int, seconds: float = 3.0) -> dict[str, Any]:
    settings = {
        "database_url": stack.database_url,
        "fastapi_insurance_base_url": stack.reference.url,
        "fastapi_insurance_api_key": stack.reference.api_key,
    }
    spawn = mp.get_context("spawn")
    ready, go, out = spawn.Semaphore(0), spawn.Event(), spawn.Queue()
    run = uuid.uuid4().hex[:6]
    processes = [
        spawn.Process(target=container, args=(i, settings, run, seconds, ready, go, out))
        for i in range(k)
    ]
    for p in processes:
        p.start()
    try:
        for _ in processes:
            if not ready.acquire(timeout=120):
                raise RuntimeError("a writer did not start")
        database = stack.database_url.rsplit("/", 1)[1]
        with ConnectionWatch(stack.postgres.url, database) as watch:
            started = time.perf_counter()
            go.set()
            latencies = [x for _ in processes for x in out.get(timeout=seconds + 60)]
            elapsed = time.perf_counter() - started
        for p in processes:
            p.join(timeout=30)
    finally:
        for p in processes:
            if p.is_alive():
                p.kill()
    return {
        "containers": k,
        "rows": len(latencies),
        "rows_per_s": len(latencies) / elapsed,
        "p50_ms": pct(latencies, 50),
        "p99_ms": pct(latencies, 99),
        "server_connections": watch.peak,
    }
