"""A local Lambda Runtime API, for AWS's own runtime interface client (``awslambdaric``).

Lambda's Python runtime is ``awslambdaric`` polling the Runtime API
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html). This module is that API for
one execution environment, over real HTTP on a loopback port:

- ``GET  /2018-06-01/runtime/invocation/next`` blocks until an invocation is queued, then
  answers the event with the ``Lambda-Runtime-*`` headers (request id, deadline, invoked
  function ARN, trace id, client context, Cognito identity);
- ``POST /2018-06-01/runtime/invocation/{id}/response`` and ``.../{id}/error`` complete it;
- ``POST /2018-06-01/runtime/init/error`` reports a failed init, which Lambda then answers to
  the pending invocation as an ``Unhandled`` function error.

``ExecutionEnvironment`` lays a function and its layers out the way Lambda mounts them
(``/var/task``, ``/opt``, ``/var/runtime`` under a temporary root, made read-only), starts
``python -m awslambdaric <handler>`` against this API with the environment Lambda sets, and
invokes it like the Lambda service does: one invocation at a time.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PREFIX = "/2018-06-01/runtime"
# Lambda's synchronous response payload limit (6 MB).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
ACCOUNT = "123456789012"


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A runtime that exits (init failure, stop) drops its keep-alive connection: normal.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Invocation:
    event: bytes
    request_id: str
    deadline_ms: int
    function_arn: str
    client_context: str | None = None
    cognito_identity: str | None = None
    trace_id: str = ""
    done: threading.Event = field(default_factory=threading.Event)
    # What the runtime posted: ("response", body) or ("error", body, error type header).
    outcome: tuple[str, bytes, str | None] | None = None


class RuntimeApi:
    """The Runtime API of one execution environment. ``invoke`` queues an event and waits."""

    def __init__(self, function_name: str, *, region: str = "us-east-1") -> None:
        self.function_name = function_name
        self.region = region
        self._pending: queue.Queue[Invocation | None] = queue.Queue()
        self._by_id: dict[str, Invocation] = {}
        self._lock = threading.Lock()
        self.init_error: tuple[dict[str, Any], str | None] | None = None
        self.init_failed = threading.Event()
        self.requests: list[tuple[str, str]] = []  # (method, path), for tests
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> RuntimeApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._pending.put(None)  # releases a runtime still waiting for its next invocation
        self._server.shutdown()
        self._server.server_close()

    def function_arn(self, qualifier: str | None = None) -> str:
        arn = f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{self.function_name}"
        return f"{arn}:{qualifier}" if qualifier else arn

    def submit(
        self,
        event: Any,
        *,
        timeout_s: float,
        client_context: Mapping[str, Any] | None = None,
        cognito_identity: Mapping[str, Any] | None = None,
        qualifier: str | None = None,
    ) -> Invocation:
        invocation = Invocation(
            event=json.dumps(event).encode(),
            request_id=str(uuid.uuid4()),
            deadline_ms=int((time.time() + timeout_s) * 1000),
            function_arn=self.function_arn(qualifier),
            client_context=json.dumps(client_context) if client_context is not None else None,
            cognito_identity=(
                json.dumps(cognito_identity) if cognito_identity is not None else None
            ),
            trace_id=(
                f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};"
                f"Parent={uuid.uuid4().hex[:16]};Sampled=0"
            ),
        )
        with self._lock:
            self._by_id[invocation.request_id] = invocation
        self._pending.put(invocation)
        return invocation

    # -- the HTTP side ----------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # the client keeps its connection alive

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the runtime's own logs are what matter

            def _answer(
                self, status: int, body: Any, headers: Mapping[str, str] | None = None
            ) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self) -> None:
                api.requests.append(("GET", self.path))
                if self.path != f"{PREFIX}/invocation/next":
                    self._answer(404, {"errorType": "NotFound", "errorMessage": self.path})
                    return
                invocation = api._pending.get()
                if invocation is None:  # the environment is shutting down
                    self._answer(410, {"errorType": "Shutdown", "errorMessage": "stopped"})
                    return
                headers = {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                    "Lambda-Runtime-Trace-Id": invocation.trace_id,
                }
                if invocation.client_context is not None:
                    headers["Lambda-Runtime-Client-Context"] = invocation.client_context
                if invocation.cognito_identity is not None:
                    headers["Lambda-Runtime-Cognito-Identity"] = invocation.cognito_identity
                self._answer(200, invocation.event, headers)

            def do_POST(self) -> None:
                api.requests.append(("POST", self.path))
                body = self._body()
                error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
                if self.path == f"{PREFIX}/init/error":
                    api.init_error = (json.loads(body or b"{}"), error_type)
                    api.init_failed.set()
                    self._answer(202, {"status": "OK"})
                    return
                parts = self.path.removeprefix(f"{PREFIX}/invocation/").split("/")
                if not self.path.startswith(f"{PREFIX}/invocation/") or len(parts) != 2:
                    self._answer(404, {"errorType": "NotFound", "errorMessage": self.path})
                    return
                request_id, kind = parts
                with api._lock:
                    invocation = api._by_id.get(request_id)
                if (
                    invocation is None
                    or invocation.done.is_set()
                    or kind
                    not in (
                        "response",
                        "error",
                    )
                ):
                    self._answer(
                        400,
                        {"errorType": "InvalidRequestID", "errorMessage": "unknown request id"},
                    )
                    return
                if kind == "response" and len(body) > MAX_RESPONSE_BYTES:
                    too_large = {
                        "errorType": "Function.ResponseSizeTooLarge",
                        "errorMessage": f"Response payload size exceeded maximum allowed "
                        f"payload size ({MAX_RESPONSE_BYTES} bytes).",
                    }
                    invocation.outcome = (
                        "error",
                        json.dumps(too_large).encode(),
                        "Function.ResponseSizeTooLarge",
                    )
                    invocation.done.set()
                    self._answer(413, too_large)
                    return
                invocation.outcome = (kind, body, error_type)
                invocation.done.set()
                self._answer(202, {"status": "OK"})

        return Handler


# -- the execution environment -----------------------------------------------------------------


@dataclass(frozen=True)
class Mounts:
    """Lambda's file system layout under ``root``: /var/task, /opt, /var/runtime."""

    root: Path

    @property
    def task(self) -> Path:
        return self.root / "var" / "task"

    @property
    def opt(self) -> Path:
        return self.root / "opt"

    @property
    def runtime(self) -> Path:
        return self.root / "var" / "runtime"

    @property
    def python_path(self) -> list[Path]:
        # Lambda's python3.12 order: the function, the layers' two conventional directories,
        # then the runtime's own packages (awslambdaric, boto3).
        return [
            self.task,
            self.opt / "python" / "lib" / "python3.12" / "site-packages",
            self.opt / "python",
            self.runtime,
        ]


def mount(root: Path, code_dir: Path, layer_dirs: list[Path], runtime_dir: Path) -> Mounts:
    """Copy the function to /var/task and each layer's content to /opt (layers are extracted
    in order, later ones over earlier), link the runtime's packages, then make it read-only."""
    mounts = Mounts(root)
    shutil.copytree(code_dir, mounts.task, symlinks=True)
    mounts.opt.mkdir(parents=True)
    for layer in layer_dirs:
        shutil.copytree(layer, mounts.opt, symlinks=True, dirs_exist_ok=True)
    shutil.copytree(runtime_dir, mounts.runtime, symlinks=True)
    set_read_only(root, read_only=True)
    return mounts


# Root ignores file modes, and tests run as root: in a mount namespace of its own, the process
# sees /var/task, /opt and /var/runtime bind-mounted read-only, as Lambda mounts them.
_REMOUNT = (
    'set -e; for d in "$1" "$2" "$3"; do mount --bind "$d" "$d"; '
    'mount -o remount,bind,ro "$d"; done; shift 3; exec "$@"'
)


def read_only_mounts(mounts: Mounts) -> list[str]:
    """A command prefix that runs the rest with the mounts read-only even for root."""
    if os.geteuid() != 0:
        return []  # the modes set by mount() already bind an unprivileged user
    return [
        "unshare",
        "--mount",
        "--",
        "sh",
        "-c",
        _REMOUNT,
        "sh",
        str(mounts.task),
        str(mounts.opt),
        str(mounts.runtime),
    ]


def set_read_only(root: Path, *, read_only: bool) -> None:
    write = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            path.chmod(mode & ~write if read_only else mode | stat.S_IWUSR)
    mode = root.stat().st_mode
    root.chmod(mode & ~write if read_only else mode | stat.S_IWUSR)


@dataclass
class Answer:
    """What the Lambda service answers an Invoke: the payload, or a function error."""

    payload: Any
    function_error: str | None = None  # "Unhandled" as in X-Amz-Function-Error
    error_type: str | None = None  # the Lambda-Runtime-Function-Error-Type header
    duration_ms: float = 0.0

    @property
    def record(self) -> dict[str, Any]:
        """The shape devstack.invoke.outcome reads: {"response": ...} or {"error": ...}."""
        return {"error": self.payload} if self.function_error else {"response": self.payload}


class ExecutionEnvironment:
    """One Lambda execution environment: a read-only mount, the Runtime API, awslambdaric."""

    def __init__(
        self,
        *,
        mounts: Mounts,
        handler: str,
        environment: Mapping[str, str],
        function_name: str,
        timeout_s: float,
        python: str,
    ) -> None:
        self.mounts = mounts
        self.handler = handler
        self.timeout_s = timeout_s
        self.api = RuntimeApi(function_name, region=environment.get("AWS_REGION", "us-east-1"))
        self.environment = dict(environment)
        self.python = python
        self.process: subprocess.Popen[str] | None = None
        self._log_path = mounts.root.parent / f"{mounts.root.name}.log"

    def start(self) -> ExecutionEnvironment:
        self.api.start()
        env = self.environment | {
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "LAMBDA_TASK_ROOT": str(self.mounts.task),
            "LAMBDA_RUNTIME_DIR": str(self.mounts.runtime),
            "PYTHONPATH": os.pathsep.join(str(p) for p in self.mounts.python_path),
            "_HANDLER": self.handler,
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.api.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{uuid.uuid4().hex}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        }
        log = self._log_path.open("w")
        self.process = subprocess.Popen(  # noqa: S603 -- our interpreter, AWS's client
            [*read_only_mounts(self.mounts), self.python, "-m", "awslambdaric", self.handler],
            cwd=self.mounts.task,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        log.close()
        return self

    @property
    def logs(self) -> str:
        return self._log_path.read_text(errors="replace")

    def invoke(
        self,
        event: Any,
        *,
        client_context: Mapping[str, Any] | None = None,
        cognito_identity: Mapping[str, Any] | None = None,
        qualifier: str | None = None,
    ) -> Answer:
        """Invoke like the Lambda service: the answer, a function error, the init error, or
        the timeout (after which Lambda discards the environment, as this one does)."""
        assert self.process is not None, "start() first"
        started = time.perf_counter()
        invocation = self.api.submit(
            event,
            timeout_s=self.timeout_s,
            client_context=client_context,
            cognito_identity=cognito_identity,
            qualifier=qualifier,
        )
        deadline = time.monotonic() + self.timeout_s + 5  # the runtime's own start-up included
        while not invocation.done.wait(0.02):
            if self.api.init_failed.is_set() or self.process.poll() is not None:
                return self._init_or_exit_error(started)
            if time.monotonic() > deadline:
                self.stop()
                return Answer(
                    {
                        "errorType": "Sandbox.Timedout",
                        "errorMessage": f"Task timed out after {self.timeout_s:.2f} seconds",
                    },
                    "Unhandled",
                    "Sandbox.Timedout",
                    (time.perf_counter() - started) * 1000,
                )
        assert invocation.outcome is not None
        kind, body, error_type = invocation.outcome
        payload = json.loads(body) if body else None
        elapsed = (time.perf_counter() - started) * 1000
        if kind == "error":
            return Answer(payload, "Unhandled", error_type, elapsed)
        return Answer(payload, None, None, elapsed)

    def _init_or_exit_error(self, started: float) -> Answer:
        elapsed = (time.perf_counter() - started) * 1000
        if self.api.init_error is not None:
            payload, error_type = self.api.init_error
            return Answer(payload, "Unhandled", error_type, elapsed)
        assert self.process is not None
        code = self.process.poll()
        return Answer(
            {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"Runtime exited with error: exit status {code}",
            },
            "Unhandled",
            "Runtime.ExitError",
            elapsed,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.api.stop()


@contextmanager
def execution_environment(
    root: Path,
    *,
    code_dir: Path,
    layer_dirs: list[Path],
    runtime_dir: Path,
    handler: str,
    environment: Mapping[str, str],
    function_name: str,
    timeout_s: float,
    python: str,
) -> Iterator[ExecutionEnvironment]:
    """Mount, start, yield; then stop the runtime and make the mount writable for cleanup."""
    mounts = mount(root, code_dir, layer_dirs, runtime_dir)
    environment_ = ExecutionEnvironment(
        mounts=mounts,
        handler=handler,
        environment=environment,
        function_name=function_name,
        timeout_s=timeout_s,
        python=python,
    )
    try:
        yield environment_.start()
    finally:
        environment_.stop()
        set_read_only(root, read_only=False)


__all__ = [
    "Answer",
    "ExecutionEnvironment",
    "Invocation",
    "Mounts",
    "RuntimeApi",
    "execution_environment",
    "mount",
]
