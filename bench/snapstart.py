"""SnapStart emulated: restore -> first answer, next to a plain cold start and a warm answer.

Each function from source (functions/<name>/, the layer from layers/common) in fresh
interpreters (``bench/snapstart_child.py``): a plain init + first answer (what a cold start
without SnapStart pays), and an init with ``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`` that is
then forked N times, each child running the after-restore hooks registered with
``snapshot_restore_py`` (as the runtime does after a restore) and answering one event. Forking
stands in for Firecracker's snapshot: the child starts from the initialized memory; what it does
not model is the restore itself (loading the snapshot's pages), which Lambda reports apart as
Restore Duration.

    python -m bench.snapstart [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

from bench.stats import median
from bench.workload import FUNCTIONS, bench_stack, function_env, http_event
from devstack.template import ROOT

CHILD = ROOT / "bench" / "snapstart_child.py"
RSS_LIMIT_MB = 128
FUNCTION_DIRS = {
    "policy_lookup": "policy_lookup",
    "claim_create": "claim_create",
    "claim_summary": "claim_summary",
}


def _run(env: dict[str, str], intent: str, n: int, snaps: int = 0) -> list[dict[str, Any]]:
    event = json.dumps(http_event(intent, n, "snap"))
    args = [sys.executable, str(CHILD), str(ROOT / "functions" / FUNCTION_DIRS[intent]), event]
    if snaps:
        args += ["--snap", str(snaps)]
    done = subprocess.run(  # noqa: S603 -- our interpreter, our script
        args, capture_output=True, text=True, env=env, timeout=300, check=False, cwd=ROOT
    )
    if done.returncode != 0:
        raise RuntimeError(f"{intent} failed:\n{done.stderr[-3000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def measure(stack: Any, runs: int, warm: int = 200) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_INITIALIZATION_TYPE"}
    env |= function_env(stack) | {"POWERTOOLS_METRICS_NAMESPACE": "InsuranceAgentApi"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)])
    out: dict[str, Any] = {}
    for intent, name in FUNCTIONS.items():
        plain = [_run(env | {"SNAPSTART_BENCH_WARM": str(warm)}, intent, n)[0] for n in range(runs)]
        snap = _run(env | {"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}, intent, 0, runs)
        snapshot = snap[0]
        restores = [r for r in snap[1:] if r["kind"] == "restore"]
        out[name] = {
            "runs": runs,
            "plain_init_ms": median([p["init_ms"] for p in plain]),
            "plain_first_ms": median([p["first_ms"] for p in plain]),
            "plain_cold_ms": median([p["init_ms"] + p["first_ms"] for p in plain]),
            "plain_warm_ms": median([p["warm_ms"] for p in plain]),
            "warm_invocations": warm,
            "peak_rss_mb": max(p["max_rss_mb"] for p in plain),
            "snapshot_init_ms": snapshot["init_ms"],
            "hooks": snapshot["hooks"],
            "restore_hooks_ms": median([r["hooks_ms"] for r in restores]),
            "restore_to_answer_ms": median([r["restore_to_answer_ms"] for r in restores]),
            "restored_warm_ms": median([r["warm_ms"] for r in restores]),
            "statuses": sorted({str(r["status"]) for r in restores + plain}),
            "distinct_random": len({r["random"] for r in restores}),
            "distinct_uuid7": len({r["uuid7"] for r in restores}),
        }
    return out


def render(results: dict[str, Any]) -> list[str]:
    lines = [
        "## SnapStart, emulated (fork of an initialized process, after-restore hooks in the "
        "child; from source; medians)",
        "",
        "| function | runs | plain cold: init + first answer ms | snapshot init ms | "
        "restore -> first answer ms (hooks ms) | warm answer ms | statuses | distinct random "
        "/ UUIDv7 across restores | peak RSS MB after N warm answers (≤ 128) |",
        "|---|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['runs']} | {r['plain_cold_ms']:.0f} ({r['plain_init_ms']:.0f} + "
            f"{r['plain_first_ms']:.0f}) | {r['snapshot_init_ms']:.0f} | "
            f"{r['restore_to_answer_ms']:.1f} ({r['restore_hooks_ms']:.1f}) | "
            f"{r['restored_warm_ms']:.1f} | {', '.join(r['statuses'])} | "
            f"{r['distinct_random']} / {r['distinct_uuid7']} of {r['runs']} | "
            f"{r['peak_rss_mb']:.0f} after {r['warm_invocations']} "
            f"({'met' if r['peak_rss_mb'] <= RSS_LIMIT_MB else '**missed**'}) |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warm", type=int, default=200)
    args = parser.parse_args(argv)
    with bench_stack() as stack:
        results = measure(stack, args.runs, args.warm)
    print("\n".join(render(results)))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
