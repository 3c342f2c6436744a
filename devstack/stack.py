"""The pieces of the local stack, started in order and stopped in reverse.

Used by ``make run`` and by the test suite, so both run against the same real things:
a discovered PostgreSQL, migrated; the reference insurance service on a loopback port.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from devstack import migrate
from devstack.pg_urls import database_of, with_database
from devstack.postgres import FoundPostgres, find_postgres

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def ensure_database(server_url: str, name: str) -> str:
    """``name`` on the server at ``server_url`` (created when absent), as a URL."""
    # Through the maintenance database: the one the URL names may be the one to create.
    with psycopg.connect(with_database(server_url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(server_url, name)


@dataclass
class ReferenceService:
    url: str
    api_key: str
    process: subprocess.Popen[bytes]
    port: int
    database_url: str
    log_path: Path
    workers: int = 1  # more than one: no /_admin

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.api_key}"}, timeout=10
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # A log with nothing in it tells nothing: leave none behind.
        with contextlib.suppress(OSError):
            if self.log_path.stat().st_size == 0:
                self.log_path.unlink()

    def restart(self) -> None:
        self.stop()
        replacement = start_reference_service(
            self.database_url,
            port=self.port,
            api_key=self.api_key,
            log_path=self.log_path,
            workers=self.workers,
        )
        self.process = replacement.process


def start_reference_service(
    database_url: str,
    *,
    port: int | None = None,
    api_key: str | None = None,
    reset: bool = False,
    log_path: Path | None = None,
    timeout_s: float = 30.0,
    workers: int = 1,
) -> ReferenceService:
    """The reference service on a loopback port; with ``workers`` > 1 it serves from that many
    processes and has no ``/_admin`` (its state is one process's)."""
    port = port or free_port()
    api_key = api_key or "ref-" + secrets.token_urlsafe(24)
    log_path = log_path or ROOT / ".local" / f"reference-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    args = [
        sys.executable,
        "-m",
        "reference_service",
        "--port",
        str(port),
        "--database-url",
        database_url,
        "--workers",
        str(workers),
    ]
    if workers == 1:
        args.append("--admin")
    if reset:
        args.append("--reset")
    env = os.environ | {"REFERENCE_API_KEY": api_key, "PYTHONPATH": str(ROOT)}
    with log_path.open("ab") as log:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=log)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"reference service exited; see {log_path}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                return ReferenceService(
                    url, api_key, process, port, database_url, log_path, workers
                )
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"reference service did not become healthy; see {log_path}")


@dataclass
class Stack:
    postgres: FoundPostgres
    database_url: str
    reference: ReferenceService
    mcp_caller_key: str = dataclasses.field(default_factory=lambda: secrets.token_urlsafe(32))

    def function_env(self) -> dict[str, str]:
        """What the functions read, pointed at this stack (the dev key, not Secrets Manager)."""
        return {
            "DATABASE_URL": self.database_url,
            # template.yaml turns IAM auth on for AWS; locally the URL above is the way in.
            "DB_IAM_AUTH": "false",
            "FASTAPI_INSURANCE_BASE_URL": self.reference.url,
            "FASTAPI_INSURANCE_API_KEY": self.reference.api_key,
            # Signs MCP caller assertions (interceptor -> tool functions); new every run.
            "MCP_CALLER_KEY": self.mcp_caller_key,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_DEV": "false",
        }


@contextlib.contextmanager
def stack_on(
    found: FoundPostgres, url: str, *, reference_port: int | None = None, reset: bool = False
) -> Iterator[Stack]:
    """The database at ``url`` migrated, and the reference service started on it."""
    migrate.apply(url)
    reference = start_reference_service(url, port=reference_port, reset=reset)
    try:
        yield Stack(found, url, reference)
    finally:
        reference.stop()


DEFAULT_DATABASE = "insurance_agent"


def chosen_database(explicit: str | None = None) -> str:
    """The database `make run` uses: the one asked for, else DATABASE_URL's, else the default."""
    url = os.environ.get("DATABASE_URL")
    return explicit or (database_of(url) if url else None) or DEFAULT_DATABASE


@contextlib.contextmanager
def local_stack(
    database: str | None = None, *, reference_port: int | None = None, reset: bool = False
) -> Iterator[Stack]:
    database = chosen_database(database)
    found = find_postgres()
    try:
        url = ensure_database(found.url, database)
        with stack_on(found, url, reference_port=reference_port, reset=reset) as stack:
            yield stack
    finally:
        found.stop()
