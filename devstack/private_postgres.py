"""PostgreSQL clusters of our own: a throwaway one for tests that must restart the server, and
the embedded development server when the project runs as root.

Uses the distribution's server binaries (``/usr/lib/postgresql/<v>/bin``, or ``PG_BIN_DIR``).
They refuse to run as root, so as root every command runs as the distribution's ``postgres``
user through ``runuser`` and the data directory is handed to that user. A cluster listens on a
free loopback port with its socket in its own directory, so parallel runs never collide.

Nothing here changes the machine outside folders it creates: no OS user is added (the
``pgserver`` wheel, run as root, adds one with a login shell and makes every parent folder of
its data and binaries group- and world-readable), and no existing folder's mode is touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
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
    # How stop() ends the server: "immediate" for throwaway clusters, "fast" (a clean
    # shutdown) for one whose data is kept.
    stop_mode: str = "immediate"

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
            self._pg_ctl("stop", "-m", self.stop_mode)

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


SERVICE_USER = "postgres"  # the distribution's server account, made by its package


def _traversable_by(user: str, path: Path) -> bool:
    command = ["runuser", "-u", user, "--", "test", "-x", str(path)]
    return subprocess.run(command, capture_output=True, check=False).returncode == 0  # noqa: S603


def root_data_dir(project_root: Path) -> Path:
    """Where the embedded server keeps its data when run as root: a folder the server's user
    owns (mode 0700), inside the project's .local when that user can reach it, else in the
    temporary directory -- never by opening up the folders above the project (a 0700 home)."""
    local = project_root / ".local"
    local.mkdir(parents=True, exist_ok=True)
    if _traversable_by(SERVICE_USER, local):
        base = local / "pgdata-cluster"
    else:
        digest = hashlib.sha256(str(project_root.resolve()).encode()).hexdigest()[:12]
        base = Path(tempfile.gettempdir()) / f"insurance-agent-pg-{digest}"
    service = pwd.getpwnam(SERVICE_USER)
    base.mkdir(mode=0o700, exist_ok=True)
    owner = base.stat().st_uid
    if owner not in (0, service.pw_uid):
        raise RuntimeError(f"{base} belongs to another user; remove it or set DATABASE_URL")
    if owner != service.pw_uid:
        os.chown(base, service.pw_uid, service.pw_gid)
    base.chmod(0o700)
    return base


def _running_port(data: Path) -> int | None:
    """The port of a server already running on ``data`` (postmaster.pid: pid, data directory,
    start time, port, ...), or None."""
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return port


def embedded_as_root(project_root: Path) -> tuple[str, PrivateCluster | None]:
    """The development server for a root session: the same cluster across runs, started if
    need be. Returns its URL and the cluster to stop, or None when another process (a running
    ``make run``) already serves it."""
    base = root_data_dir(project_root)
    port = _running_port(base / "data")
    if port is not None:
        return f"postgresql://postgres@127.0.0.1:{port}/postgres", None
    cluster = PrivateCluster(
        server_bin_dir(), base, free_port(), max_connections=100, stop_mode="fast"
    )
    if not (base / "data" / "PG_VERSION").exists():
        cluster.init()
    cluster.start()
    return cluster.url, cluster
