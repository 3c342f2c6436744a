"""Render the benchmark's results as the Markdown tables of bench/RESULTS.md."""

from __future__ import annotations

from typing import Any

from bench.snapstart import render as snapstart_render
from bench.stats import ratio

MB = 1_000_000
LAYER_LIMIT_MB = 30


def mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


COLD_TITLES = {"cold": "## Cold init: built artifacts, a fresh process each (medians)"}


def _cold(results: dict[str, Any], key: str = "cold") -> list[str]:
    rows = results[key]
    by = {(r["label"], r["kind"]): r for r in rows}
    bare = by.get(("bare FastAPI+Mangum hello", "http"))
    lines = [
        COLD_TITLES[key],
        "",
        "| variant | event | runs | init ms | first answer ms | cold ms | process CPU ms "
        "| max RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        bad = f" ({r['unexpected']} unexpected answers)" if r["unexpected"] else ""
        lines.append(
            f"| {r['label']}{bad} | {r['kind']} | {r['runs']} | {r['init_ms']:.0f} | "
            f"{r['first_ms']:.0f} | {r['cold_ms']:.0f} | {r.get('cpu_ms', float('nan')):.0f} | "
            f"{r['memory_mb']:.0f} |"
        )
    if bare is None:
        return lines
    lines += [
        "",
        "cold = init (the handler module's imports: Lambda's Init Duration) + the first "
        "answer (ours: lazy imports, connecting to Postgres and the upstream, the upstream "
        "calls and the audit write; the hello handler does no I/O).",
        "",
        "Ratios on the cold medians (wall) and, in brackets, on the whole processes' CPU "
        "time, which the machine's other load moves far less.",
        "",
        "| function | path | cold ms | x bare (target) | x obvious (target) | x floor |",
        "|---|---|---:|---|---|---:|",
    ]
    for (label, kind), r in by.items():
        if label.startswith(("bare", "obvious", "floor")):
            continue
        limit = 1.5 if kind == "http" else 1.0
        cells = _ratio_cell(r, bare, limit)
        obvious = by.get((f"obvious {label}", "http"))
        if kind == "http" and obvious is not None:
            cells += " | " + _ratio_cell(r, obvious, 0.6)
        else:
            cells += " | -"
        floor = next((v for (lb, k), v in by.items() if lb.startswith("floor") and k == kind), None)
        if floor is not None:
            cells += f" | {ratio(r['cold_ms'], floor['cold_ms']):.2f}"
        else:
            cells += " | -"
        lines.append(f"| {label} | {kind} | {r['cold_ms']:.0f} | {cells} |")
    return lines


def _ratio_cell(r: dict[str, Any], base: dict[str, Any], limit: float) -> str:
    wall = ratio(r["cold_ms"], base["cold_ms"])
    cpu = ratio(r.get("cpu_ms", float("nan")), base.get("cpu_ms", float("nan")))
    return f"{wall:.2f} [{cpu:.2f}] (≤ {limit}: {mark(wall <= limit)} [{mark(cpu <= limit)}])"


def _imports(results: dict[str, Any], top: int = 14) -> list[str]:
    data: dict[str, dict[str, float]] = results["imports"]
    totals: dict[str, float] = {}
    for costs in data.values():
        for package, ms in costs.items():
            totals[package] = max(totals.get(package, 0.0), ms)
    packages = sorted(totals, key=lambda p: -totals[p])[:top]
    header = " | ".join(packages)
    lines = [
        "## Import-time breakdown (`python -X importtime`, one run each, ms of self time "
        "per top-level package; the tracing inflates the figures)",
        "",
        f"| variant | total | {header} |",
        "|---|---:|" + "---:|" * len(packages),
    ]
    for label, costs in data.items():
        cells = " | ".join(f"{costs.get(p, 0.0):.0f}" for p in packages)
        lines.append(f"| {label} | {sum(costs.values()):.0f} | {cells} |")
    return lines


def _warm(results: dict[str, Any]) -> list[str]:
    lines = [
        "## Warm invocations (one process per function, API Gateway events, loopback "
        "upstream, real Postgres)",
        "",
        "| function | invocations | statuses | total p50/p99 | upstream p50/p99 | "
        "audit p50/p99 | other ports p50/p99 | overhead p50/p99 | overhead CPU p50/p99 | "
        "overhead ≤ 1 ms p50 [CPU] |",
        "|---|---:|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results["warm"].items():
        parts = r["parts"]
        cells = " | ".join(
            f"{parts[p][0]:.2f} / {parts[p][1]:.2f}"
            for p in ("total", "upstream", "audit", "other ports", "overhead", "overhead_cpu")
            if p in parts
        )
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(r["statuses"].items()))
        lines.append(
            f"| {name} | {r['invocations']} | {statuses} | {cells} | "
            f"{mark(parts['overhead'][0] <= 1.0)} "
            f"[{mark(parts.get('overhead_cpu', (99.0,))[0] <= 1.0)}] |"
        )
    lines += [
        "",
        "overhead = total - upstream - audit - other ports (wall time, timers around every "
        "port of the container's services; other ports: any besides the upstream client and "
        "the audit store, e.g. an idempotency store); overhead CPU = the invoking thread's CPU "
        "time outside the ports, which the machine's other load moves far less.",
    ]
    return lines


# Issue 15's targets, as ratios against the floor's figures taken in the same loop.
CPU_TARGETS = {"PolicyLookupFunction": 1.3, "ClaimSummaryFunction": 2.0, "ClaimCreateFunction": 3.0}
SUMMARY_WALL_TARGET = 1.3


def _floor(results: dict[str, Any]) -> list[str]:
    lines = [
        "## Warm invocations against the floor (interleaved: one floor invocation after each of "
        "ours)",
        "",
        "The floor (`bench/baselines/floor_warm.py`): FastAPI + Mangum, one reused httpx.Client "
        "and psycopg connection, one upstream GET and one INSERT per request.",
        "",
        "| function | thread CPU p50 ms | x floor (target) | process CPU p50 ms | x floor | "
        "wall p50 ms | x floor | upstream requests / invocation | database round trips / "
        "invocation |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    trips = (results.get("server_log") or {}).get("per_function", {})
    for name, r in results["warm"].items():
        floor = r.get("floor")
        if not floor:
            continue
        parts = r["parts"]
        cpu = ratio(parts["total_cpu"][0], floor["total_cpu"][0])
        process = ratio(parts["process_cpu"][0], floor["process_cpu"][0])
        wall = ratio(parts["total"][0], floor["total"][0])
        target = CPU_TARGETS.get(name, float("nan"))
        db = trips.get(name)
        db_cell = "-"
        if db:
            kinds = ", ".join(
                f"{verb} {n:.2f}" for verb, n in sorted(db["statements_per_invocation"].items())
            )
            db_cell = f"{db['round_trips_per_invocation']:.2f} ({kinds})"
        lines.append(
            f"| {name} | {parts['total_cpu'][0]:.2f} | {cpu:.2f} (≤ {target}: "
            f"{mark(cpu <= target)}) | {parts['process_cpu'][0]:.2f} | {process:.2f} | "
            f"{parts['total'][0]:.2f} | {wall:.2f} | {r.get('upstream_requests', float('nan')):.2f}"
            f" | {db_cell} |"
        )
    summary = results["warm"].get("ClaimSummaryFunction")
    if summary and summary.get("floor"):
        wall = ratio(summary["parts"]["total"][0], summary["floor"]["total"][0])
        lines += [
            "",
            f"Claim summary wall p50 {wall:.2f}x the floor's (target ≤ {SUMMARY_WALL_TARGET}: "
            f"{mark(wall <= SUMMARY_WALL_TARGET)}). Thread CPU is the invoking thread's; "
            "process CPU adds the claim summary's concurrent upstream request on the client's "
            "worker thread. Database round trips are the statements the server logged per warm "
            "invocation (`log_statement = all`), the pool's checkout checks included.",
        ]
    return lines


def _naive(results: dict[str, Any]) -> list[str]:
    naive = results["naive"]
    ours = results.get("warm", {}).get("ClaimSummaryFunction")
    lines = [
        "## Claim summary against the naive way (new client and connection per request, "
        "insert + refresh)",
        "",
        "| implementation | requests | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        f"| naive | {naive['requests']} | {naive['p50_ms']:.2f} | {naive['p99_ms']:.2f} |",
    ]
    if ours is not None:
        p50, p99 = ours["parts"]["total"]
        speedup = ratio(naive["p50_ms"], p50)
        lines += [
            f"| ours | {ours['invocations']} | {p50:.2f} | {p99:.2f} |",
            "",
            f"Ours is {speedup:.1f}x faster at p50 (target ≥ 6x: {mark(speedup >= 6)}).",
        ]
    return lines


def _discipline(results: dict[str, Any]) -> list[str]:
    lines = [
        "## Connection discipline",
        "",
        "Counted around the warm loops (after 20 warm-up invocations):",
        "",
        "| function | pool connects | new server sessions | new upstream TCP connections | "
        "prepared statements in its session | session-level settings |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, r in results.get("warm", {}).items():
        d = r["discipline"]
        lines.append(
            f"| {name} | {d['pool_connections_made']} | {d['new_server_backends']} | "
            f"{d['new_upstream_connections']} | {d['prepared_statements']} | "
            f"{', '.join(d['session_settings']) or 'none'} |"
        )
    log = results.get("server_log")
    if log:
        statements = ", ".join(f"{v}: {n}" for v, n in sorted(log["statements"].items()))
        lines += [
            "",
            f"What the server logged (`log_statement = all`, private cluster) for "
            f"{log['invocations']} invocations across the three functions: "
            f"{log['connections']} connections opened by the functions; statements "
            f"{statements}; server-side prepared statements {log['prepared']}; session "
            f"commands (SET/RESET/DISCARD) {log['session_commands']}.",
        ]
    return lines


def _mb(size: int) -> str:
    return f"{size / MB:.2f}" if size >= 10_000 else f"{size / MB:.4f} ({size} bytes)"


def _size(results: dict[str, Any], key: str = "size") -> list[str]:
    title = "host architecture" if key == "size" else "arm64: aarch64 wheels, not importable here"
    lines = [
        f"## Size (`sam build` output, {title})",
        "",
        "| artifact | unzipped MB | zipped MB | files | .pyc files | contents |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, r in results[key].items():
        listing = ", ".join(r["listing"]) if r["listing"] else "(dependencies)"
        flag = ""
        if not name.endswith("Function"):
            flag = f" (≤ {LAYER_LIMIT_MB} MB: {mark(r['unzipped_bytes'] <= LAYER_LIMIT_MB * MB)})"
        lines.append(
            f"| {name} | {_mb(r['unzipped_bytes'])}{flag} | {_mb(r['zipped_bytes'])} | "
            f"{r['files']} | {r['pyc_files']} | {listing} |"
        )
    return lines


def _throughput(results: dict[str, Any]) -> list[str]:
    lines = [
        "## Audit throughput (K container processes, one pooled connection each, 3 s)",
        "",
        "| K | rows | rows/s | insert p50 ms | insert p99 ms | server connections (= K) |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for r in results["throughput"]:
        k = r["containers"]
        lines.append(
            f"| {k} | {r['rows']} | {r['rows_per_s']:.0f} | {r['p50_ms']:.2f} | "
            f"{r['p99_ms']:.2f} | {r['server_connections']} "
            f"({mark(r['server_connections'] == k)}) |"
        )
    return lines


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    load = ", ".join(f"{x:.2f}" for x in m.get("load_start", ()))
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `make bench` on {m['date']}, commit {m['commit']}; {m['cores']} cores "
        f"({m['cpu']}), Python {m['python']}; load average at start {load}. "
        f"Run took {m.get('elapsed_s', '?')} s.",
        "",
        "The machine is shared: other sessions may run their test suites meanwhile (the load "
        "average above). Wall times move with that load; the CPU-time figures much less, and "
        "the ratios come from variants run round-robin in the same minutes.",
    ]
    from bench import fleet, mcp_door

    for key, part in (
        ("cold", _cold),
        ("imports", _imports),
        ("warm", _warm),
        ("warm", _floor),
        ("naive", _naive),
        ("fleet", lambda r: fleet.render(r["fleet"])),
        ("warm", _discipline),
        ("size", _size),
        ("size_arm64", lambda r: _size(r, "size_arm64")),
        ("snapstart", lambda r: snapstart_render(r["snapstart"])),
        ("throughput", _throughput),
        ("mcp", lambda r: mcp_door.render(r["mcp"])),
    ):
        if key in results:
            lines += ["", *part(results)]
    return "\n".join(lines) + "\n"
