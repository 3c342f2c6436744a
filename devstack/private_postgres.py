"""A throwaway PostgreSQL cluster of our own, for tests that must restart the server.

Uses the distribution's server binaries (``/usr/lib/postgresql/<v>/bin``, or ``PG_BIN_DIR``).
They refuse to run as root, so as root every command runs as the ``postgres`` user through
``runuser`` and the data directory is handed to that user. The cluster listens on a free
loopback port with its socket in its own directory, so parallel runs never collide.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from devstack.stack import free_port


def server_bin_dir() -> Path:
    configured = os.environ.get("PG_BIN_DIR")
    candidates = [Path(configured)] if configured else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for candidate in candidates:
        if (candidate / "pg_ctl").exists() and (candidate / "initdb").exists():
            return candidate
    raise RuntimeError("no PostgreSQL server binaries found; set PG_BIN_DIR to their directory")


@dataclass
class PrivateCluster:
    bin_dir: Path
    data_dir: Path
    port: int
    max_connections: int = 40

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 60.0) -> None:
        command = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)  # noqa: S603

    def _pg_ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            f"-c max_connections={self.max_connections}"
        )
        self._run(
            "pg_ctl",
            action,
            "-D",
            str(self.data_dir / "data"),
            "-l",
            str(self.data_dir / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "30",
            *extra,
        )

    def init(self) -> None:
        data = str(self.data_dir / "data")
        self._run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        self._pg_ctl("start")

    def restart(self) -> float:
        """Fast restart (clients are disconnected); the seconds it took."""
        started = time.monotonic()
        self._pg_ctl("restart", "-m", "fast")
        return time.monotonic() - started

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._pg_ctl("stop", "-m", "immediate")

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


@contextlib.contextmanager
def private_cluster(*, max_connections: int = 40) -> Iterator[PrivateCluster]:
    base = Path(tempfile.mkdtemp(prefix="ia-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(base, user="postgres", group="postgres")
        cluster = PrivateCluster(server_bin_dir(), base, free_port(), max_connections)
        cluster.init()
        cluster.start()
        try:
            yield cluster
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
