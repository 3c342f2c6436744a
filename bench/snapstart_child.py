"""Run by ``bench/snapstart.py`` in a fresh interpreter: one function's init, then either one
plain answer, or (``--snap``) a SnapStart init and N emulated restores, each a ``fork`` of the
initialized process running the registered after-restore hooks, then answering. One JSON line
per measurement on stdout; nothing else is printed there.

    python bench/snapstart_child.py FUNCTION_DIR EVENT_JSON [--snap N]
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import sys
import time
from typing import Any


def _answer(handler: Any, event: dict[str, Any]) -> tuple[float, Any]:
    from devstack.events import LambdaContext

    context = LambdaContext(function_name="snapstart-bench")
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        response = handler(event, context)
    return (time.perf_counter() - started) * 1000, response.get("statusCode")


def main() -> int:
    function_dir, event_text = sys.argv[1], sys.argv[2]
    snaps = int(sys.argv[4]) if len(sys.argv) > 3 and sys.argv[3] == "--snap" else 0
    event = json.loads(event_text)
    out = sys.stdout
    sys.path.insert(0, function_dir)
    started = time.perf_counter()
    import app  # type: ignore[import-not-found]  # the function's handler module

    init_ms = (time.perf_counter() - started) * 1000
    if not snaps:
        first_ms, status = _answer(app.handler, event)
        warm_ms, _ = _answer(app.handler, event)
        # A warm container's peak: WARM more answers (env SNAPSTART_BENCH_WARM), then the
        # process's maximum resident set.
        for _ in range(int(os.environ.get("SNAPSTART_BENCH_WARM", "0"))):
            _answer(app.handler, event)
        from devstack.lambda_bootstrap import peak_rss_kib  # VmHWM: not the bench's peak

        out.write(
            json.dumps(
                {"kind": "plain", "init_ms": init_ms, "first_ms": first_ms, "status": status}
                | {"warm_ms": warm_ms}
                | {"max_rss_mb": peak_rss_kib() / 1024}
            )
            + "\n"
        )
        return 0
    from snapshot_restore_py import get_after_restore  # type: ignore[import-untyped]

    hooks = list(get_after_restore())
    out.write(json.dumps({"kind": "snapshot", "init_ms": init_ms, "hooks": len(hooks)}) + "\n")
    out.flush()
    # Python reseeds ``random`` in a forked child by itself (os.register_at_fork); a snapshot's
    # copies would all start from the state below, so the child is put back to it.
    snapshot_random = random.getstate()
    for _ in range(snaps):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the restored copy
            os.close(read_end)
            random.setstate(snapshot_random)
            restored = time.perf_counter()
            for hook, args, kwargs in hooks:
                hook(*args, **kwargs)
            hooks_ms = (time.perf_counter() - restored) * 1000
            first_ms, status = _answer(app.handler, event)
            warm_ms, _ = _answer(app.handler, event)
            from uuid6 import uuid7

            record = {
                "kind": "restore",
                "hooks_ms": hooks_ms,
                "first_ms": first_ms,
                "restore_to_answer_ms": hooks_ms + first_ms,
                "warm_ms": warm_ms,
                "status": status,
                "random": random.random(),  # noqa: S311 -- compared across restores only
                "uuid7": str(uuid7()),
            }
            os.write(write_end, (json.dumps(record) + "\n").encode())
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            out.write(pipe.read())
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
