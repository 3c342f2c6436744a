"""A crowd of Lambda-like containers that each send one request at the same moment.

Each container is a ``FunctionEntry`` with its own ``ContainerRuntime`` (its own pool of one
connection and its own HTTP client), warmed by a first invocation (FastAPI app imported, pool
connected), then held at a barrier until every container of every process is ready. Containers
live in a few spawned processes (as devstack/load.py starts them), several per process on their
own threads, so a hundred of them cost a handful of interpreter starts on a small machine.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import threading
from typing import Any

from devstack.events import LambdaContext, http_api_event
from devstack.load import claim_event, new_container

FUNCTION_NAME = "ClaimCreateFunction"


def _process(
    process_no: int,
    containers: int,
    settings: dict[str, Any],
    headers: dict[str, str],
    body: dict[str, Any],
    ready: Any,
    go: Any,
    results: Any,
) -> None:
    def container(n: int) -> None:
        entry = new_container("claim_create", settings)
        try:
            # The cold start: a first invocation (refused: wrong method) loads the app and
            # connects the pool, so the crowd's requests meet only each other.
            warm = http_api_event(
                "GET",
                "/claims",
                headers=headers | {"x-conversation-id": "crowd-warm-up"},
                request_id=f"warm-{process_no}-{n}",
            )
            entry.handler(warm, LambdaContext(function_name=FUNCTION_NAME))
            ready.release()
            go.wait()
            request_id = f"crowd-{process_no}-{n}"
            response = entry.handler(
                claim_event(headers, body, request_id), LambdaContext(function_name=FUNCTION_NAME)
            )
            results.put(
                {
                    "request_id": request_id,
                    "status": response["statusCode"],
                    "headers": {k.lower(): v for k, v in response.get("headers", {}).items()},
                    "body": json.loads(response["body"]),
                }
            )
        except Exception as exc:  # noqa: BLE001 -- reported to the test, which fails on it
            ready.release()
            results.put({"request_id": f"crowd-{process_no}-{n}", "crashed": repr(exc)})
        finally:
            entry.runtime.close()

    threads = [threading.Thread(target=container, args=(n,)) for n in range(containers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def send_at_once(
    settings: dict[str, Any],
    headers: dict[str, str],
    body: dict[str, Any],
    *,
    containers: int,
    processes: int,
    timeout_s: float = 90.0,
) -> list[dict[str, Any]]:
    """Every container's answer to the same POST /claims, sent together; one per container."""
    spawn = mp.get_context("spawn")
    ready, go, results = spawn.Semaphore(0), spawn.Event(), spawn.Queue()
    per_process = [containers // processes + (i < containers % processes) for i in range(processes)]
    workers = [
        spawn.Process(
            target=_process,
            args=(i, count, settings, headers, body, ready, go, results),
            daemon=True,
        )
        for i, count in enumerate(per_process)
    ]
    for worker in workers:
        worker.start()
    try:
        for _ in range(containers):
            if not ready.acquire(timeout=timeout_s):
                raise RuntimeError("a container did not start")
        go.set()
        answers = [results.get(timeout=timeout_s) for _ in range(containers)]
        for worker in workers:
            worker.join(timeout=timeout_s)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
    return answers
