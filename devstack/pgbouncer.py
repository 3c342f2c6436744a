"""PgBouncer in transaction pooling mode: the local stand-in for RDS Proxy.

Like RDS Proxy, it hands a server connection to a client for one transaction only, so a client
must hold no session state across transactions: no server-side prepared statements
(``prepare_threshold=None``), no ``SET``, no session advisory locks. Anything that does shows
up here as errors (``prepared statement "_pg3_0" already exists``, or ``... does not exist``).

The Debian package ``pgbouncer`` provides the binary (tools/pgbouncer.sh installs it).
PgBouncer refuses to run as root, so as root it runs as the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from devstack.stack import free_port

BINARY_CANDIDATES = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")
# What the pooling mode breaks, as the server or PgBouncer reports it.
POOLING_ERRORS = re.compile(
    r"prepared statement \S+ (already exists|does not exist)"
    r"|current transaction is aborted|DISCARD ALL cannot|unsupported pkt type"
    r"|SET .* not supported|there is no transaction in progress",
    re.IGNORECASE,
)


def binary() -> str:
    found = shutil.which("pgbouncer") or next(
        (c for c in BINARY_CANDIDATES if Path(c).exists()), None
    )
    if found is None:
        raise RuntimeError("pgbouncer is not installed: run tools/pgbouncer.sh (make test does)")
    return found


@dataclass
class PgBouncer:
    """One PgBouncer on a free loopback port, fronting ``databases`` (alias -> server URL)."""

    databases: Mapping[str, str]
    port: int = field(default_factory=free_port)
    pool_size: int = 10
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ia-pgb-")))
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / "pgbouncer.log"

    def url(self, alias: str, original: str) -> str:
        """``original`` (a server URL) re-pointed at this PgBouncer's alias for it."""
        parts = urlsplit(original)
        user = parts.username or "postgres"
        return urlunsplit(parts._replace(netloc=f"{user}@127.0.0.1:{self.port}", path=f"/{alias}"))

    def _config(self) -> str:
        lines = ["[databases]"]
        for alias, url in self.databases.items():
            parts = urlsplit(url)
            lines.append(
                f"{alias} = host={parts.hostname} port={parts.port or 5432} "
                f"dbname={parts.path.lstrip('/')} user={parts.username or 'postgres'}"
            )
        lines += [
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {self.port}",
            "unix_socket_dir =",
            "auth_type = any",
            "pool_mode = transaction",
            f"default_pool_size = {self.pool_size}",
            "max_client_conn = 500",
            # psycopg and libpq send these at connect; transaction pooling cannot keep them.
            "ignore_startup_parameters = extra_float_digits,options",
            "server_reset_query =",
            "server_check_delay = 1",
            f"logfile = {self.log_path}",
            f"pidfile = {self.workdir / 'pgbouncer.pid'}",
            "log_connections = 0",
            "log_disconnections = 0",
        ]
        return "\n".join(lines) + "\n"

    def start(self) -> PgBouncer:
        config = self.workdir / "pgbouncer.ini"
        config.write_text(self._config())
        command = [binary(), str(config)]
        if os.geteuid() == 0:
            user = "postgres" if _user_exists("postgres") else "nobody"
            shutil.chown(self.workdir, user=user)
            for path in (config, self.log_path):
                path.touch()
                shutil.chown(path, user=user)
            command[1:1] = ["-u", user]
        self.process = subprocess.Popen(  # noqa: S603 -- the Debian package's binary
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_listening(self.port, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # immediate shutdown: clients dropped
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> float:
        """Stop (every client and server connection dropped) and start again on the same port;
        the seconds it took."""
        started = time.monotonic()
        self.stop()
        self.start()
        self.restarts += 1
        return time.monotonic() - started

    def pooling_errors(self) -> list[str]:
        return pooling_errors(self.log_path.read_text(errors="replace"))

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def pooling_errors(text: str) -> list[str]:
    """The lines of a log that show state a transaction pooler cannot keep."""
    return [line for line in text.splitlines() if POOLING_ERRORS.search(line)]


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"pgbouncer not listening on {port} after {timeout_s}s")


@contextlib.contextmanager
def pgbouncer(databases: Mapping[str, str], *, pool_size: int = 10) -> Iterator[PgBouncer]:
    bouncer = PgBouncer(databases, pool_size=pool_size).start()
    try:
        yield bouncer
    finally:
        bouncer.close()
