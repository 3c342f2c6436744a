"""Warm overhead: thousands of API Gateway events through one function, in one process.

The handler is the function's real one (``entry.lambda_handler``: Powertools logger and
metrics around the event dispatch, Mangum, FastAPI). Only the two ports are wrapped, from
outside, in timers: the upstream client's calls and the audit store's ``record``; overhead is
what is left of an invocation (total - upstream - audit). Connection discipline is counted
around the loop: the pool's connection attempts, the server's backends of the function
(``pg_stat_activity``), the upstream's distinct client TCP connections (``/_admin/stats``),
and, through the function's own pooled session afterwards, its prepared statements and
session-level settings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import psycopg

from bench.cold import BASELINES
from bench.stats import pct
from bench.workload import FUNCTIONS, function_env, http_event
from devstack.events import LambdaContext
from devstack.stack import Stack

APPLICATION_NAME = "insurance-agent-api"  # database.py's application_name


@dataclass
class Clock:
    """Milliseconds spent in each port during the current invocation: wall time, and this
    thread's CPU time (which other processes' load on the machine barely moves). A port called
    inside another (the idempotency store runs the filing, which calls upstream and the audit)
    counts only its own time: the nested calls' time is its callees'."""

    wall_ms: dict[str, float] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    # Time spent in ports called from the port now running, one entry per open call.
    nested: list[list[float]] = field(default_factory=list)

    def reset(self) -> None:
        self.wall_ms.clear()
        self.cpu_ms.clear()
        self.nested.clear()

    def add(self, port: str, wall: float, cpu: float) -> None:
        self.wall_ms[port] = self.wall_ms.get(port, 0.0) + wall
        self.cpu_ms[port] = self.cpu_ms.get(port, 0.0) + cpu

    def others_ms(self, *named: str) -> float:
        return sum(v for k, v in self.wall_ms.items() if k not in named)


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.thread_time()


def _since(started: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _now()
    return (wall - started[0]) * 1000, (cpu - started[1]) * 1000


class TimedPort:
    """Stands in for one of ``Services``' ports: every method call is timed into ``port``."""

    def __init__(self, inner: Any, clock: Clock, port: str) -> None:
        self._inner, self._clock, self._port = inner, clock, port

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def timed(*args: Any, **kwargs: Any) -> Any:
            clock = self._clock
            clock.nested.append([0.0, 0.0])
            started = _now()
            try:
                return attribute(*args, **kwargs)
            finally:
                wall, cpu = _since(started)
                inner_wall, inner_cpu = clock.nested.pop()
                clock.add(self._port, wall - inner_wall, cpu - inner_cpu)
                if clock.nested:
                    clock.nested[-1][0] += wall
                    clock.nested[-1][1] += cpu

        return timed


@dataclass
class WarmResult:
    function: str
    invocations: int
    total_ms: list[float] = field(default_factory=list)
    upstream_ms: list[float] = field(default_factory=list)
    audit_ms: list[float] = field(default_factory=list)
    # Any other port the operations use (an idempotency store, say): neither overhead nor
    # upstream nor audit.
    other_ms: list[float] = field(default_factory=list)
    # This thread's CPU time outside the ports: the handler's own work, load or no load.
    overhead_cpu_ms: list[float] = field(default_factory=list)
    # This thread's CPU time for the whole invocation, ports included: what the floor's is
    # compared with.
    total_cpu_ms: list[float] = field(default_factory=list)
    # The whole process's CPU time per invocation: counts work handed to other threads too
    # (the claim summary's concurrent upstream request).
    process_cpu_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    discipline: dict[str, Any] = field(default_factory=dict)
    # Upstream requests per invocation (the client's own count, retries included).
    upstream_requests: float = float("nan")
    # The floor's invocations interleaved with these (run_function).
    floor: WarmResult | None = None

    @property
    def overhead_ms(self) -> list[float]:
        return [
            t - u - a - o
            for t, u, a, o in zip(
                self.total_ms, self.upstream_ms, self.audit_ms, self.other_ms, strict=True
            )
        ]

    def parts(self) -> dict[str, tuple[float, float]]:
        return {
            name: (pct(values, 50), pct(values, 99))
            for name, values in (
                ("total", self.total_ms),
                ("upstream", self.upstream_ms),
                ("audit", self.audit_ms),
                ("other ports", self.other_ms),
                ("overhead", self.overhead_ms),
                ("overhead_cpu", self.overhead_cpu_ms),
                ("total_cpu", self.total_cpu_ms),
                ("process_cpu", self.process_cpu_ms),
            )
        }


@contextlib.contextmanager
def function_environment(stack: Stack) -> Iterator[None]:
    """The functions' environment as the template sets it (metrics on, tracing off)."""
    env = function_env(stack) | {
        "POWERTOOLS_SERVICE_NAME": "insurance-agent-api",
        "POWERTOOLS_METRICS_NAMESPACE": "InsuranceAgentApi",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    from insurance_agent.settings import get_settings

    with mock.patch.dict(os.environ, env):
        get_settings.cache_clear()
        try:
            yield
        finally:
            get_settings.cache_clear()


def timed_handler(intent: str) -> tuple[Callable[[Any, Any], Any], Any, Clock]:
    """The function's handler, its container runtime, and the clock its ports report to."""
    from insurance_agent.catalog import OPERATIONS
    from insurance_agent.entry import lambda_handler

    handler = lambda_handler(OPERATIONS[intent])
    runtime = handler.entry.runtime  # type: ignore[attr-defined]
    clock = Clock()
    real = runtime.services  # builds the pool and the client, as the first event would
    ports = {
        f.name: TimedPort(getattr(real, f.name), clock, f.name)
        for f in dataclasses.fields(real)
        if f.name != "clock"
    }
    # The benchmark's timers, not the layer's: the container's services, each port wrapped.
    runtime._services = dataclasses.replace(real, **ports)
    return handler, runtime, clock


def backends(url: str) -> set[tuple[int, str]]:
    """The functions' server sessions: (pid, backend_start)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, backend_start::text FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database()",
            (APPLICATION_NAME,),
        ).fetchall()
    return {(int(pid), str(started)) for pid, started in rows}


def upstream_peers(stack: Stack) -> set[tuple[str, int]] | None:
    """The upstream's client connections so far, or None when it cannot say (several
    workers, no ``/_admin``)."""
    if stack.reference.workers > 1:
        return None
    with stack.reference.admin() as admin:
        peers = admin.get("/_admin/stats").json()["peers"]
    return {(str(host), int(port)) for host, port in peers}


def session_state(runtime: Any) -> dict[str, Any]:
    """Asked through the function's own pooled connection: what its server session holds."""
    with runtime.database.connection() as conn:
        prepared = conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()
        settings = conn.execute(
            "SELECT name FROM pg_settings WHERE source = 'session' ORDER BY name"
        ).fetchall()
    return {
        "prepared_statements": int(prepared[0]) if prepared else -1,
        "session_settings": [str(r[0]) for r in settings],
    }


def run_function(
    stack: Stack, intent: str, invocations: int, warmup: int = 20, *, floor: bool = True
) -> WarmResult:
    """``invocations`` warm events through the function's handler, each followed by one
    through the floor (``result.floor``) unless ``floor`` is false."""
    handler, runtime, clock = timed_handler(intent)
    context = LambdaContext(function_name=FUNCTIONS[intent])
    result = WarmResult(FUNCTIONS[intent], invocations)
    baseline = Floor(stack, FUNCTIONS[intent]) if floor else None
    events = [http_event(intent, n, "warm") for n in range(warmup + invocations)]
    # Requests the function's client sends, retries included: upstream round trips.
    sent = [0]
    assert runtime.client is not None
    runtime.client.http.event_hooks["request"].append(
        lambda request: sent.__setitem__(0, sent[0] + 1)
    )
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        for event in events[:warmup]:
            handler(event, context)
            if baseline is not None:
                baseline.step(measured=False)
        sent_before = sent[0]
        pool_before = runtime.database.stats().get("connections_num", 0)
        backends_before = backends(stack.database_url)
        peers_before = upstream_peers(stack)
        for event in events[warmup:]:
            clock.reset()
            process_started = time.process_time()
            started = _now()
            response = handler(event, context)
            total, total_cpu = _since(started)
            result.process_cpu_ms.append((time.process_time() - process_started) * 1000)
            result.total_ms.append(total)
            result.upstream_ms.append(clock.wall_ms.get("upstream", 0.0))
            result.audit_ms.append(clock.wall_ms.get("audit", 0.0))
            result.other_ms.append(clock.others_ms("upstream", "audit"))
            result.overhead_cpu_ms.append(total_cpu - sum(clock.cpu_ms.values()))
            result.total_cpu_ms.append(total_cpu)
            status = int(response["statusCode"])
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if baseline is not None:
                baseline.step()
    result.upstream_requests = (sent[0] - sent_before) / invocations
    backends_after = backends(stack.database_url)
    peers_after = upstream_peers(stack)
    result.discipline = {
        "pool_connections_made": runtime.database.stats().get("connections_num", 0) - pool_before,
        "new_server_backends": len(backends_after - backends_before),
        "server_backends": len(backends_after),
        "new_upstream_connections": (
            len(peers_after - peers_before)
            if peers_after is not None and peers_before is not None
            else None
        ),
        **session_state(runtime),
    }
    runtime.close()
    if baseline is not None:
        baseline.close()
        result.floor = baseline.result
    return result


class Floor:
    """The warm floor (bench/baselines/floor_warm.py) answering the policy lookup's events, one
    invocation after each of ours: the machine's load falls on both alike, and the ratios
    compare figures taken in the same seconds."""

    def __init__(self, stack: Stack, name: str) -> None:
        spec = importlib.util.spec_from_file_location("floor_warm", BASELINES / "floor_warm.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        self._handler = module.build(
            stack.reference.url, stack.reference.api_key, stack.database_url
        )
        self._context = LambdaContext(function_name="floor")
        self._n = 0
        self.result = WarmResult(f"floor ({name})", 0)

    def step(self, *, measured: bool = True) -> None:
        event = http_event("policy_lookup", self._n, "floor")
        self._n += 1
        result = self.result
        process_started = time.process_time()
        started = _now()
        response = self._handler(event, self._context)
        total, total_cpu = _since(started)
        process_cpu = (time.process_time() - process_started) * 1000
        if not measured:
            return
        result.invocations += 1
        result.process_cpu_ms.append(process_cpu)
        result.total_ms.append(total)
        result.total_cpu_ms.append(total_cpu)
        for part in (result.upstream_ms, result.audit_ms, result.other_ms, result.overhead_cpu_ms):
            part.append(float("nan"))
        status = int(response["statusCode"])
        result.statuses[status] = result.statuses.get(status, 0) + 1

    def close(self) -> None:
        self._handler.close()
