"""The claim summary against an upstream that serves concurrent requests from two processes.

The reference service is one process, whose handlers share one GIL: is that what keeps the
summary's two concurrent requests from costing what one does? A second instance on the same
database serves from two worker processes (``--workers 2``), and the summary's warm loop (the
floor interleaved, pointed at the same instance) and the naive way run against it. (Measured:
the ratio does not move; docs/performance.md, "Against a two-process upstream".)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from bench import naive, warm
from bench.stats import ratio
from devstack.stack import Stack, start_reference_service

WORKERS = 2


def measure(stack: Stack, invocations: int, naive_requests: int) -> dict[str, Any]:
    service = start_reference_service(
        stack.database_url, api_key=stack.reference.api_key, workers=WORKERS
    )
    try:
        two = dataclasses.replace(stack, reference=service)
        with warm.function_environment(two):
            result = warm.run_function(two, "claim_summary", invocations)
            baseline = naive.measure(two, naive_requests)
    finally:
        service.stop()
    assert result.floor is not None
    return {
        "workers": WORKERS,
        "invocations": result.invocations,
        "statuses": result.statuses,
        "parts": result.parts(),
        "floor": result.floor.parts(),
        "naive": baseline,
    }


def render(fleet: dict[str, Any]) -> list[str]:
    from bench.report import SUMMARY_WALL_TARGET, mark

    ours, floor, slow = fleet["parts"]["total"], fleet["floor"]["total"], fleet["naive"]
    wall, speedup = ratio(ours[0], floor[0]), ratio(slow["p50_ms"], ours[0])
    return [
        f"## Claim summary against a {fleet['workers']}-process upstream",
        "",
        "The same database behind a second reference service serving from "
        f"{fleet['workers']} worker processes (`--workers {fleet['workers']}`), as an upstream "
        "fleet serves concurrent requests at once; the floor interleaved against it.",
        "",
        "| implementation | requests | statuses | p50 ms | p99 ms |",
        "|---|---:|---|---:|---:|",
        f"| ours | {fleet['invocations']} | {fleet['statuses']} | {ours[0]:.2f} | {ours[1]:.2f} |",
        f"| floor (one GET, one INSERT) | {fleet['invocations']} | - | {floor[0]:.2f} | "
        f"{floor[1]:.2f} |",
        f"| naive | {slow['requests']} | {slow['statuses']} | {slow['p50_ms']:.2f} | "
        f"{slow['p99_ms']:.2f} |",
        "",
        f"Claim summary wall p50 {wall:.2f}x the floor's (target ≤ {SUMMARY_WALL_TARGET}: "
        f"{mark(wall <= SUMMARY_WALL_TARGET)}); {speedup:.1f}x faster than the naive way "
        f"(target ≥ 6x: {mark(speedup >= 6)}).",
    ]
