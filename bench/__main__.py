"""`make bench`: every measurement in one run, printed, written to bench/RESULTS.md.

    python -m bench [--cold-runs 15] [--warm 2000] [--naive 300] [--only cold,warm,...]

Exits 0 whatever the figures are; targets are reported as met or missed, never asserted.
Raw figures go to bench/out/results.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import cold, discipline, fleet, mcp_door, naive, size, snapstart, throughput, warm
from bench.report import render
from bench.workload import FUNCTIONS, bench_stack, function_env
from devstack.invoke import runtime_standin
from devstack.template import ROOT

SECTIONS = (
    "size",
    "cold",
    "imports",
    "warm",
    "naive",
    "fleet",
    "discipline",
    "throughput",
    "snapstart",
    "mcp",
)
OUT = ROOT / "bench" / "out"
XRAY = ROOT / ".local" / "bench" / "xray"


def _git(*args: str) -> str:
    done = subprocess.run(  # noqa: S603 -- fixed git subcommands
        ["git", *args],  # noqa: S607 -- git from PATH, as for any developer
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    return done.stdout.strip()


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + (" (uncommitted changes)" if dirty else ""),
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "load_start": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cold-runs", type=int, default=15)
    parser.add_argument("--warm", type=int, default=2000)
    parser.add_argument("--naive", type=int, default=300)
    parser.add_argument("--mcp", type=int, default=300)
    parser.add_argument("--log-invocations", type=int, default=100)
    parser.add_argument("--snapstart-runs", type=int, default=5)
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"machine": machine()}
    started = time.monotonic()

    def say(line: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {line}", flush=True)

    if "size" in only:
        results["size"] = size.measure(args.build_dir)
        arm64 = args.build_dir.with_name(args.build_dir.name + "-arm64")
        if arm64.is_dir():
            results["size_arm64"] = size.measure(arm64)
        say("sizes measured")
    with bench_stack() as stack:
        if only & {"cold", "imports"}:
            runtime = runtime_standin(ROOT / ".local" / "lambda-runtime")
            cold.compile_dependencies(runtime, XRAY)
            variants = cold.variants(args.build_dir, runtime, XRAY, function_env(stack))
            if "cold" in only:
                measured = cold.measure(variants, args.cold_runs, progress=say)
                results["cold"] = [r.summary() for r in measured]
            if "imports" in only:
                results["imports"] = cold.import_breakdown(variants)
                say("import breakdown done")
        if "warm" in only:
            results["warm"] = {}
            with warm.function_environment(stack):
                # Summaries first: the claims filed by claim_create go to another policy anyway.
                for intent in ("claim_summary", "policy_lookup", "claim_create"):
                    result = warm.run_function(stack, intent, args.warm)
                    results["warm"][FUNCTIONS[intent]] = {
                        "invocations": result.invocations,
                        "statuses": result.statuses,
                        "parts": result.parts(),
                        "discipline": result.discipline,
                        "upstream_requests": result.upstream_requests,
                        "floor": result.floor.parts() if result.floor else None,
                    }
                    say(f"warm {FUNCTIONS[intent]} done")
        if "mcp" in only:
            with warm.function_environment(stack):
                results["mcp"] = mcp_door.measure(args.mcp)
            say("MCP gateway vs HTTP API done")
        if "naive" in only:
            from insurance_agent.settings import get_settings

            results["naive"] = naive.measure(stack, args.naive)
            get_settings.cache_clear()
            say("naive claim summary done")
        if "fleet" in only:
            results["fleet"] = fleet.measure(stack, args.warm // 2, args.naive)
            say("claim summary against a two-process upstream done")
        if "discipline" in only:
            results["server_log"] = discipline.server_view(stack, args.log_invocations)
            say("server log read")
        if "snapstart" in only:
            results["snapstart"] = snapstart.measure(stack, args.snapstart_runs)
            say("snapstart emulation done")
        if "throughput" in only:
            results["throughput"] = [throughput.measure(stack, k) for k in (1, 4, 16)]
            say("audit throughput done")
    results["machine"]["load_end"] = os.getloadavg()
    results["machine"]["elapsed_s"] = round(time.monotonic() - started, 1)
    (OUT / "results.json").write_text(json.dumps(results, indent=2, default=str))
    text = render(results)
    print(text)
    if only == set(SECTIONS):
        args.results.write_text(text)
        say(f"written to {args.results.resolve().relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
