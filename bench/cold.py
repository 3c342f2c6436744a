"""Cold init: fresh processes loading the built artifacts the way Lambda does.

Each run is ``python -I -S -B devstack/lambda_bootstrap.py``: only the function's code dir,
the built layer's ``python/`` and a stand-in for the runtime's boto3 on ``sys.path`` (``-B``:
Lambda's file systems are read-only, so nothing the process compiles is cached for the next
one). It imports the handler (``init_ms``, Lambda's Init Duration) and answers one event
against the real stack (``first_ms``); cold = init + first answer. Variants run round-robin,
so the machine's other load falls on all of them alike.
"""

from __future__ import annotations

import compileall
import json
import resource
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench.stats import median
from bench.workload import FUNCTIONS, direct_event, hello_event, http_event
from devstack.invoke import BOOTSTRAP, Artifacts, built_artifacts, lambda_env, outcome
from devstack.template import ROOT, FunctionSpec, functions

BASELINES = ROOT / "bench" / "baselines"
FLOOR = "floor: hello + psycopg, httpx, one GET, one query"
FLOOR_DIRECT = "floor without FastAPI: psycopg, httpx, one GET, one query"
# Any traced invocation needs a trace header; Lambda sets it per invocation.
TRACE_ID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


@dataclass(frozen=True)
class Variant:
    label: str
    kind: str  # "http" or "direct"
    handler: str
    artifacts: Artifacts
    env: dict[str, str]
    event: Callable[[int], dict[str, Any]]
    expect: tuple[int | str, ...]

    @property
    def module(self) -> str:
        return self.handler.rpartition(".")[0]


@dataclass
class ColdResult:
    variant: Variant
    init_ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)
    memory_mb: list[int] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def cold_ms(self) -> list[float]:
        return [i + f for i, f in zip(self.init_ms, self.first_ms, strict=True)]

    def summary(self) -> dict[str, Any]:
        return {
            "label": self.variant.label,
            "kind": self.variant.kind,
            "runs": len(self.init_ms),
            "init_ms": median(self.init_ms),
            "first_ms": median(self.first_ms),
            "cold_ms": median(self.cold_ms),
            "memory_mb": median(self.memory_mb),
            "cpu_ms": median(self.cpu_ms),
            "outcomes": dict(self.outcomes),
            "unexpected": sum(
                n for o, n in self.outcomes.items() if o not in map(str, self.variant.expect)
            ),
        }


def command(variant: Variant, *, importtime: bool = False) -> list[str]:
    flags = ["-I", "-S", "-B", *(["-X", "importtime"] if importtime else [])]
    args = [sys.executable, *flags, str(BOOTSTRAP), "--handler", variant.handler, "--jsonl"]
    for entry in variant.artifacts.sys_path:
        args += ["--path", str(entry)]
    return args


def _children_cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1000


def run_once(variant: Variant, n: int, *, importtime: bool = False) -> tuple[dict[str, Any], str]:
    """One fresh process, one event; the record carries ``cpu_ms``: the whole process's CPU
    time (interpreter start included), which the machine's other load barely moves."""
    cpu_before = _children_cpu_ms()
    done = subprocess.run(  # noqa: S603 -- our interpreter, our bootstrap
        command(variant, importtime=importtime),
        input=json.dumps(variant.event(n)) + "\n",
        capture_output=True,
        text=True,
        env=variant.env,
        cwd=variant.artifacts.code_dir,
        timeout=120,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{variant.label} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    record: dict[str, Any] = json.loads(lines[0])
    record["cpu_ms"] = _children_cpu_ms() - cpu_before
    return record, done.stderr


def _hello(n: int) -> dict[str, Any]:
    return hello_event()


def variants(
    build_dir: Path,
    runtime_dir: Path,
    xray_dir: Path,
    stack_env: dict[str, str],
    *,
    layer_dir: Path | None = None,
    baselines: bool = True,
) -> list[Variant]:
    specs = functions()
    out: list[Variant] = []

    def artifacts_of(spec: FunctionSpec) -> Artifacts:
        built = built_artifacts(spec, build_dir, runtime_dir)
        if layer_dir is None:
            return built
        return Artifacts(built.code_dir, (layer_dir,), built.runtime_paths)

    for intent, logical_id in FUNCTIONS.items():
        spec = specs[logical_id]
        arts = artifacts_of(spec)
        env = lambda_env(spec, arts, stack_env)
        ok = (201,) if intent == "claim_create" else (200,)
        out.append(
            Variant(
                logical_id,
                "http",
                spec.handler,
                arts,
                env,
                partial(http_event, intent, run="cold"),
                ok,
            )
        )
        out.append(
            Variant(
                logical_id,
                "direct",
                spec.handler,
                arts,
                env,
                partial(direct_event, intent, run="cold"),
                ("ok",),
            )
        )
        if not baselines:
            continue
        obvious = Artifacts(BASELINES, (*arts.layer_paths, xray_dir), arts.runtime_paths)
        obvious_env = lambda_env(spec, obvious, stack_env) | {
            "POWERTOOLS_TRACE_DISABLED": "false",
            "_X_AMZN_TRACE_ID": TRACE_ID,
            "BENCH_OPERATION": intent,
        }
        out.append(
            Variant(
                f"obvious {logical_id}",
                "http",
                "obvious.handler",
                obvious,
                obvious_env,
                partial(http_event, intent, run="cold-obvious"),
                ok,
            )
        )
        if intent == "policy_lookup":
            # What the Tracer (X-Ray SDK, patched modules) alone costs the obvious way.
            out.append(
                Variant(
                    f"obvious {logical_id}, Tracer off",
                    "http",
                    "obvious.handler",
                    obvious,
                    obvious_env | {"POWERTOOLS_TRACE_DISABLED": "true"},
                    partial(http_event, intent, run="cold-obvious"),
                    ok,
                )
            )
    if baselines:
        spec = specs[FUNCTIONS["policy_lookup"]]
        arts = artifacts_of(spec)
        bare = Artifacts(BASELINES, arts.layer_paths, arts.runtime_paths)
        env = lambda_env(spec, bare, stack_env)
        cases: list[tuple[str, str, str, Callable[[int], dict[str, Any]], tuple[int | str]]] = [
            ("bare FastAPI+Mangum hello", "http", "bare.handler", _hello, (200,)),
            (FLOOR, "http", "floor.handler", partial(http_event, "policy_lookup"), (200,)),
            (
                FLOOR_DIRECT,
                "direct",
                "floor_direct.handler",
                partial(direct_event, "policy_lookup"),
                ("ok",),
            ),
        ]
        out[:0] = [Variant(lb, k, h, bare, env, ev, ex) for lb, k, h, ev, ex in cases]
    return out


def measure(
    variant_list: list[Variant], runs: int, progress: Callable[[str], None] = print
) -> list[ColdResult]:
    results = [ColdResult(v) for v in variant_list]
    for n in range(runs):
        for result in results:
            record, _ = run_once(result.variant, n)
            report = record["report"]
            result.init_ms.append(float(report["init_ms"]))
            result.first_ms.append(float(report["duration_ms"]))
            result.memory_mb.append(int(report["max_memory_mb"]))
            result.cpu_ms.append(float(record["cpu_ms"]))
            result.outcomes[str(outcome(record))] += 1
        progress(f"cold: round {n + 1}/{runs}")
    return results


def compile_dependencies(*dirs: Path) -> None:
    """Bytecode for what the baselines load besides the layer, as their deployments would have
    it: the Lambda runtime ships boto3 & co. compiled, and the obvious implementation's X-Ray
    SDK is built like our layer. Without it they would compile at every cold start."""
    for directory in dirs:
        for entry in directory.iterdir():
            target = entry.resolve()
            if target.is_dir():
                compileall.compile_dir(target, quiet=1)
            elif target.suffix == ".py":
                compileall.compile_file(target, quiet=1)


# -- where the time goes: python -X importtime ------------------------------------------------


def imported(stderr: str) -> dict[str, int]:
    """Self time (us) of each module ``-X importtime`` logged."""
    out: dict[str, int] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, raw = line[len("import time:") :].split("|", 2)
        out[raw.strip()] = int(self_us)
    return out


def import_costs(stderr: str, before: set[str]) -> dict[str, float]:
    """Self time (ms) per top-level package of what the handler's import and its first event
    imported; ``before`` (what a handler importing nothing gets) is left out."""
    costs: dict[str, float] = {}
    for name, self_us in imported(stderr).items():
        if name not in before:
            package = name.split(".")[0]
            costs[package] = costs.get(package, 0.0) + self_us / 1000
    return costs


def import_breakdown(variant_list: list[Variant]) -> dict[str, dict[str, float]]:
    """One ``-X importtime`` run per variant (figures inflated by the tracing itself)."""
    first = variant_list[0]
    noop = Variant(
        "noop",
        "direct",
        "noop.handler",
        Artifacts(BASELINES, (), ()),
        first.env,
        lambda n: {},
        ("ok",),
    )
    before = set(imported(run_once(noop, 0, importtime=True)[1]))
    out: dict[str, dict[str, float]] = {}
    for variant in variant_list:
        _, stderr = run_once(variant, 10_000, importtime=True)
        out[f"{variant.label} ({variant.kind})"] = import_costs(stderr, before)
    return out
