"""The inside of a Docker-free Lambda invocation: run as ``python -I -S lambda_bootstrap.py``.

``-I -S`` leave only the standard library on ``sys.path`` (no site-packages, no source tree, no
script directory); this script then puts exactly what the Lambda runtime would there, in its
order: the function's code dir (/var/task), the layers' ``python/`` dirs (/opt/python) and a
stand-in for the runtime's own packages (/var/runtime: boto3 and friends). It imports the
handler the way the runtime does and invokes it once per event read from stdin,
like one warm container.

Standard library only, on purpose: it must not depend on anything it is meant to isolate.
The response goes to stdout; everything the function prints or logs goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def _lambda_context_class() -> Any:
    # devstack/events.py is stdlib-only; loaded by file so the source tree stays off sys.path.
    spec = importlib.util.spec_from_file_location(
        "_bootstrap_events", Path(__file__).with_name("events.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module.LambdaContext


def _error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    """What the Lambda runtime returns for an unhandled exception."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def peak_rss_kib() -> int:
    """This process image's peak resident set. Not ``ru_maxrss``: Linux carries that across
    ``execve`` from the process that forked us, so a child of a large parent (the bench) would
    report the parent's peak as its own. ``VmHWM`` belongs to the new image alone."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _report(request_id: str, started: float, init_ms: float | None) -> dict[str, Any]:
    """Lambda's REPORT line, on the log stream, and its figures for the caller."""
    figures: dict[str, Any] = {
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "init_ms": None if init_ms is None else round(init_ms, 2),
        "max_memory_mb": peak_rss_kib() // 1024,
    }
    line = f"REPORT RequestId: {request_id}\tDuration: {figures['duration_ms']:.2f} ms"
    if init_ms is not None:
        line += f"\tInit Duration: {figures['init_ms']:.2f} ms"
    print(f"{line}\tMax Memory Used: {figures['max_memory_mb']} MB", file=sys.stderr)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--handler", required=True, help="module.attr, e.g. app.handler")
    parser.add_argument("--path", action="append", default=[], help="sys.path entry, in order")
    parser.add_argument("--jsonl", action="store_true", help="one JSON line per answer")
    args = parser.parse_args(argv)

    # The function's stdout is its log stream: send it to stderr and keep stdout for answers.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    sys.path[:0] = args.path
    context_class = _lambda_context_class()
    module_name, _, attr = args.handler.rpartition(".")
    started = time.perf_counter()
    handler: Any = None
    init_error: BaseException | None = None
    try:
        handler = getattr(importlib.import_module(module_name), attr)
    except Exception as exc:  # noqa: BLE001 -- Lambda answers every invoke with the init error
        traceback.print_exc(file=sys.stderr)
        init_error = exc
    # What Lambda reports as Init Duration, less the runtime's own start: the imports.
    init_ms: float | None = (time.perf_counter() - started) * 1000
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local-function")
    memory = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"))
    timeout = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "10"))

    # Events arrive on stdin, one JSON document per line; each gets one answer on stdout.
    for line in sys.stdin:
        if not line.strip():
            continue
        event = json.loads(line)
        context = context_class(
            function_name=function_name, memory_limit_in_mb=memory, timeout_s=timeout
        )
        record: dict[str, Any] = {}
        started = time.perf_counter()
        try:
            if init_error is not None:
                raise init_error
            record["response"] = handler(event, context)
        except Exception as exc:  # noqa: BLE001 -- reported the way the runtime reports it
            traceback.print_exc(file=sys.stderr)
            record["error"] = _error_payload(exc, context.aws_request_id)
        record["report"] = _report(context.aws_request_id, started, init_ms)
        init_ms = None  # only the first invocation of a container pays for init
        if args.jsonl:
            answers.write(json.dumps(record, default=str) + "\n")
        else:
            answer = record.get("response", record.get("error"))
            answers.write(json.dumps(answer, indent=2, default=str) + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
