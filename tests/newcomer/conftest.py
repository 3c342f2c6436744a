"""A real `make run` (``python -m devstack.run``) for the newcomer tests: its own ports, its own
scratch database (named through DATABASE_URL, as a user would) and its own state directory,
so a developer's running stack is left alone. Its terminal output is kept for the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from devstack.pg_urls import with_database
from devstack.postgres import FoundPostgres, scratch_database
from devstack.stack import ROOT, free_port


@dataclass
class RunningStack:
    port: int
    reference_port: int
    database_url: str
    state_dir: Path
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def env(self) -> dict[str, str]:
        """What a shell in the user's terminal would have: the state dir of this stack, and no
        DATABASE_URL (the session's fixtures set one in this process; a user's shell has none,
        so `make trail` must find the database this stack chose by itself)."""
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        return env | {"DEVSTACK_STATE_DIR": str(self.state_dir)}

    def wait_for_line(self, needle: str, timeout_s: float = 10) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if needle in line:
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no line with {needle!r} in:\n{self.output}")


def start_run(
    database_url: str, state_dir: Path, *, extra_env: dict[str, str] | None = None
) -> RunningStack:
    port, reference_port = free_port(), free_port()
    env = os.environ | {
        "DATABASE_URL": database_url,
        "PG_DISCOVERY": "url",
        "DEVSTACK_STATE_DIR": str(state_dir),
        "PYTHONUNBUFFERED": "1",
    }
    ports = ["--port", str(port), "--reference-port", str(reference_port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.run", *ports],
        cwd=ROOT,
        env=env | (extra_env or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = RunningStack(port, reference_port, database_url, state_dir, process)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            stack.lines.append(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return stack


def wait_ready(stack: RunningStack, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if stack.process.poll() is not None:
            raise AssertionError(f"make run exited {stack.process.returncode}:\n{stack.output}")
        if any(line.startswith("  make trail") for line in stack.lines):
            try:
                httpx.get(f"{stack.url}/health", timeout=5)
                return
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    raise AssertionError(f"make run not ready in {timeout_s}s:\n{stack.output}")


def stop_run(stack: RunningStack) -> None:
    if stack.process.poll() is None:
        stack.process.terminate()
        try:
            stack.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            stack.process.kill()
            stack.process.wait()


@pytest.fixture(scope="session")
def run_database(pg_server: FoundPostgres) -> Iterator[str]:
    with scratch_database(pg_server.url, f"ia_run_{os.getpid()}_{uuid.uuid4().hex[:6]}") as url:
        yield url


@pytest.fixture(scope="session")
def running_stack(
    run_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    stack = start_run(run_database, tmp_path_factory.mktemp("stack-state"))
    try:
        wait_ready(stack)
        yield stack
    finally:
        stop_run(stack)


def server_url_of(database_url: str) -> str:
    return with_database(database_url, "postgres")
