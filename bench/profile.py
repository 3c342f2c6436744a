"""Profile a warm loop of each function in-process (cProfile), for deciding what to cut.

    python -m bench.profile [--n 1000] [--only claim_summary,...] [--top 30] [--sort tottime]

The same handlers and events as the warm section of ``make bench``, against a scratch stack.
Prints, per function, the invoking thread's CPU per invocation (unprofiled) and the profile's
top entries; the profile itself slows everything, so read it for shares, not absolute times.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import time

from bench.stats import pct
from bench.warm import Floor, function_environment
from bench.workload import FUNCTIONS, bench_stack, http_event
from devstack.events import LambdaContext


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--only", default="policy_lookup,claim_summary,claim_create")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--no-profile", action="store_true", help="timings only")
    parser.add_argument("--dump", default="", help="write each profile to DUMP-<intent>.prof")
    args = parser.parse_args(argv)
    with bench_stack() as stack, function_environment(stack):
        from insurance_agent.catalog import OPERATIONS
        from insurance_agent.entry import lambda_handler

        for intent in args.only.split(","):
            handler = lambda_handler(OPERATIONS[intent])
            context = LambdaContext(function_name=FUNCTIONS[intent])
            events = [http_event(intent, n, "profile") for n in range(40 + 2 * args.n)]
            cpu: list[float] = []
            process_cpu: list[float] = []
            wall: list[float] = []
            # CPU time of this thread: waits on sockets are not charged, whatever the load.
            profile = cProfile.Profile(time.thread_time)
            baseline = Floor(stack, intent)
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                for event in events[:40]:
                    handler(event, context)
                    baseline.step(measured=False)
                for event in events[40 : 40 + args.n]:
                    w, c, pc = time.perf_counter(), time.thread_time(), time.process_time()
                    handler(event, context)
                    cpu.append((time.thread_time() - c) * 1000)
                    process_cpu.append((time.process_time() - pc) * 1000)
                    wall.append((time.perf_counter() - w) * 1000)
                    baseline.step()
                if not args.no_profile:
                    profile.enable()
                    for event in events[40 + args.n :]:
                        handler(event, context)
                    profile.disable()
            handler.entry.runtime.close()  # type: ignore[attr-defined]
            baseline.close()
            floor = baseline.result
            floor_cpu = pct(floor.total_cpu_ms, 50)
            floor_pcpu = pct(floor.process_cpu_ms, 50)
            print(
                f"=== floor, interleaved: thread CPU p50 {floor_cpu:.3f} ms, process CPU "
                f"{floor_pcpu:.3f} ms, wall p50 {pct(floor.total_ms, 50):.3f} ms",
                flush=True,
            )
            print(
                f"=== {intent}: thread CPU p50 {pct(cpu, 50):.3f} ms "
                f"({pct(cpu, 50) / floor_cpu:.2f}x floor), process CPU "
                f"{pct(process_cpu, 50):.3f} ms ({pct(process_cpu, 50) / floor_pcpu:.2f}x), "
                f"wall p50 {pct(wall, 50):.3f} ms "
                f"({pct(wall, 50) / pct(floor.total_ms, 50):.2f}x floor; n={args.n}, "
                "unprofiled)",
                flush=True,
            )
            if args.no_profile:
                continue
            if args.dump:
                profile.dump_stats(f"{args.dump}-{intent}.prof")
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats(args.sort).print_stats(args.top)
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
