"""Find a PostgreSQL server, or start one, in this order:

1. ``DATABASE_URL`` when set;
2. a server already listening on 127.0.0.1:5432 (developer machines and CI have one);
3. a throwaway container through testcontainers, when a Docker engine answers its socket
   (checked in milliseconds: no socket, no wait);
4. an embedded server from the ``pgserver`` wheel, data in ``.local/pgdata`` (works as root).

``PG_DISCOVERY`` (comma-separated: url,local,docker,embedded) narrows or reorders the steps.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_ORDER = ("url", "local", "docker", "embedded")


@dataclass
class FoundPostgres:
    url: str
    source: str
    handle: Any = None  # the container or embedded server to stop, if we started one

    def stop(self) -> None:
        if self.handle is None:
            return
        with contextlib.suppress(Exception):
            if hasattr(self.handle, "stop"):
                self.handle.stop()
            elif hasattr(self.handle, "cleanup"):
                self.handle.cleanup()
        self.handle = None


def _port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def docker_engine_answers(timeout: float = 0.25) -> bool:
    """True only when a Docker engine answers ``/_ping``; a bare client does not count."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            path = host.removeprefix("unix://")
            if not os.path.exists(path):
                return False
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(path)
        elif host.startswith("tcp://"):
            hostport = host.removeprefix("tcp://").split("/")[0]
            name, _, port = hostport.partition(":")
            sock = socket.create_connection((name, int(port or 2375)), timeout=timeout)
        else:
            return False
        with sock:
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = sock.recv(256)
        return reply.startswith(b"HTTP/") and b" 200 " in reply.split(b"\r\n", 1)[0]
    except OSError:
        return False


def _from_docker() -> FoundPostgres | None:
    if not docker_engine_answers():
        return None
    from testcontainers.postgres import PostgresContainer

    container = PostgresContainer("postgres:16-alpine", driver=None)
    container.start()
    return FoundPostgres(container.get_connection_url(), "testcontainers", container)


def _from_embedded() -> FoundPostgres:
    import pgserver

    pgdata = ROOT / ".local" / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    return FoundPostgres(server.get_uri(), "embedded (pgserver)", server)


class PostgresNotFound(RuntimeError):
    pass


def find_postgres(order: tuple[str, ...] | None = None) -> FoundPostgres:
    steps = order or tuple(
        s.strip() for s in os.environ.get("PG_DISCOVERY", ",".join(DEFAULT_ORDER)).split(",")
    )
    unknown = [s for s in steps if s not in DEFAULT_ORDER]
    if unknown:
        raise PostgresNotFound(
            f"PG_DISCOVERY: unknown step {', '.join(map(repr, unknown))}; "
            f"use any of {','.join(DEFAULT_ORDER)} (comma-separated)"
        )
    for step in steps:
        if step == "url" and os.environ.get("DATABASE_URL"):
            return FoundPostgres(os.environ["DATABASE_URL"], "DATABASE_URL")
        if step == "local" and _port_open("127.0.0.1", 5432) and _answers(LOCAL_URL):
            return FoundPostgres(LOCAL_URL, "local server 127.0.0.1:5432")
        if step == "docker":
            found = _from_docker()
            if found is not None:
                return found
        if step == "embedded":
            return _from_embedded()
    raise PostgresNotFound(f"no PostgreSQL found (tried {', '.join(steps)})")


def with_database(url: str, dbname: str) -> str:
    """The same server URL pointing at another database."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = dbname
    return _to_url(info)


def _to_url(info: dict[str, Any]) -> str:
    from urllib.parse import quote

    user = quote(str(info.get("user", "postgres")), safe="")
    password = info.get("password")
    auth = f"{user}:{quote(str(password), safe='')}@" if password else f"{user}@"
    host = info.get("host", "127.0.0.1")
    port = info.get("port", 5432)
    query = ""
    if host.startswith("/"):
        query, host = f"?host={quote(host, safe='')}", ""
    return f"postgresql://{auth}{host}:{port}/{info['dbname']}{query}"


@contextlib.contextmanager
def scratch_database(server_url: str, name: str) -> Iterator[str]:
    """A fresh database on the server, dropped afterwards."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
