"""Run the claim-intake state machine locally, without AWS, and print what it did and how long.

The local stack (Postgres, migrations, the reference insurance service on a free port, its
data reseeded), the three handlers loaded from template.yaml, moto's Step Functions executor
and the in-process Lambda bridge: the same path the workflow tests take.

    python -m devstack.run_workflow                     # statemachine/claim_intake.input.json
    python -m devstack.run_workflow --runs 5 --upstream-failures 2

Each run gets its own conversation id and idempotency key, and the claim's loss date is set to
yesterday (the seeded policies' terms move with the calendar) unless --keep-loss-date.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devstack.template import ROOT

DEFAULT_INPUT = ROOT / "statemachine" / "claim_intake.input.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--runs", type=int, default=3, choices=range(1, 51), metavar="1..50")
    parser.add_argument("--database", default="ia_workflow_local")
    parser.add_argument(
        "--upstream-failures",
        type=int,
        default=0,
        choices=range(0, 3),
        help="the reference service answers POST /v1/claims with 503 this many times per run",
    )
    parser.add_argument("--keep-loss-date", action="store_true")
    args = parser.parse_args(argv)
    base_input: dict[str, Any] = json.loads(args.input.read_text())

    from moto import mock_aws

    from devstack.lambda_runtime import load_handler, resolve_environment
    from devstack.sfn_bridge import MOTO_CONFIG, lambda_bridge
    from devstack.stack import free_port, local_stack
    from devstack.template import functions, layer_dirs
    from devstack.workflow import MotoWorkflow

    with local_stack(args.database, reference_port=free_port(), reset=True) as stack:
        specs = functions()
        for spec in specs.values():
            os.environ.update(resolve_environment(spec, stack.function_env()))
        if args.upstream_failures:
            # The client's own retries off, so the state machine's Retry does the recovering.
            os.environ["UPSTREAM_RETRY_ATTEMPTS"] = "1"
        handlers = {
            spec.logical_id: load_handler(spec, extra_paths=layer_dirs()) for spec in specs.values()
        }
        timings: list[float] = []
        with mock_aws(config=MOTO_CONFIG), lambda_bridge(handlers) as invoked:
            workflow = MotoWorkflow()
            for run in range(1, args.runs + 1):
                workflow_input = _fresh(base_input, keep_loss_date=args.keep_loss_date)
                if args.upstream_failures:
                    fault = {
                        "path_prefix": "/v1/claims",
                        "method": "POST",
                        "status": 503,
                        "times": args.upstream_failures,
                    }
                    with stack.reference.admin() as admin:
                        admin.post("/_admin/faults", json=fault).raise_for_status()
                invoked.clear()
                started = time.perf_counter()
                execution = workflow.run(workflow_input)
                timings.append((time.perf_counter() - started) * 1000)
                outcome = (
                    execution.output.get("summary")
                    if execution.status == "SUCCEEDED" and execution.output
                    else f"{execution.error}: {execution.cause}"
                )
                print(
                    f"run {run}: {execution.status} in {timings[-1]:.0f} ms; "
                    f"states {' > '.join(execution.states_entered())}; "
                    f"invocations {len(invoked)}; conversation {workflow_input['conversation_id']}"
                )
                print(f"  {outcome}")
        print(
            f"{args.runs} executions: median {statistics.median(timings):.0f} ms, "
            f"min {min(timings):.0f} ms, max {max(timings):.0f} ms (moto executor, in-process "
            "handlers, real Postgres and reference service; Retry waits are real sleeps)"
        )
        print(f"trail: DATABASE_URL={stack.database_url} python -m ops trail --conversation <id>")
    return 0


def _fresh(base: dict[str, Any], *, keep_loss_date: bool) -> dict[str, Any]:
    workflow_input: dict[str, Any] = json.loads(json.dumps(base))
    tag = uuid.uuid4().hex[:10]
    workflow_input["conversation_id"] = f"conv-intake-{tag}"
    workflow_input["idempotency_key"] = f"intake-{tag}"
    if not keep_loss_date:
        yesterday = datetime.now(UTC).date() - timedelta(days=1)
        workflow_input["claim"]["loss_date"] = yesterday.isoformat()
    return workflow_input


if __name__ == "__main__":
    raise SystemExit(main())
