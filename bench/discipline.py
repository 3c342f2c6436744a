"""What the server sees from the functions: every statement and connection, logged.

A private PostgreSQL cluster (``devstack.private_postgres``) holds the audit database with
``log_statement = all`` and ``log_connections = on``; each function answers API Gateway events
in this process against it, then the server log is read back: connections the functions opened,
and statements by kind. psycopg logs an unnamed extended-protocol statement as
``execute <unnamed>``; a server-side prepared statement would show as ``execute _pg3_N`` (or a
``PREPARE``), a session setting as ``SET``/``RESET``/``DISCARD``: RDS Proxy pins on both.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections import Counter
from typing import Any

import psycopg

from bench.warm import function_environment
from bench.workload import FUNCTIONS, http_event
from devstack import migrate
from devstack.events import LambdaContext
from devstack.private_postgres import private_cluster
from devstack.stack import Stack
from devstack.template import ROOT

PREFIX = "app=insurance-agent-api "
LOG_COPY = ROOT / "bench" / "out" / "server.log"
_ENTRY_START = re.compile(r"^\d{4}-\d{2}-\d{2} ")
_STATEMENT = re.compile(r"LOG:  (statement|execute ([^:]+)):(.*)", re.IGNORECASE | re.DOTALL)
_SESSION_COMMANDS = {"SET", "RESET", "DISCARD"}
# The pool checks a connection before lending it with an empty query.
EMPTY = "(empty: pool check)"


def log_entries(text: str) -> list[str]:
    """Log entries with their continuation lines (a statement's SQL spans several)."""
    entries: list[str] = []
    for line in text.splitlines():
        if _ENTRY_START.match(line) or not entries:
            entries.append(line)
        else:
            entries[-1] += "\n" + line
    return entries


def read_log(text: str) -> dict[str, Any]:
    connections = 0
    verbs: Counter[str] = Counter()
    named: Counter[str] = Counter()
    session_commands = 0
    for entry in log_entries(text):
        if "connection authorized" in entry and "application_name=insurance-agent-api" in entry:
            connections += 1
        if PREFIX not in entry:
            continue
        match = _STATEMENT.search(entry)
        if match is None:
            continue
        words = match.group(3).split()
        verb = words[0].upper() if words else EMPTY
        verbs[verb] += 1
        name = match.group(2)
        if verb == "PREPARE" or (name is not None and name.strip() != "<unnamed>"):
            named[name or "PREPARE"] += 1
        if verb in _SESSION_COMMANDS:
            session_commands += 1
    return {
        "connections": connections,
        "statements": dict(verbs),
        "prepared": sum(named.values()),
        "session_commands": session_commands,
    }


def server_view(stack: Stack, invocations: int) -> dict[str, Any]:
    from insurance_agent.catalog import OPERATIONS
    from insurance_agent.entry import lambda_handler

    with private_cluster() as cluster:
        audit_url = cluster.create_database("audit")
        migrate.apply(audit_url, only="app")
        with psycopg.connect(cluster.url, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET log_statement = 'all'")
            conn.execute("ALTER SYSTEM SET log_connections = on")
            conn.execute("ALTER SYSTEM SET log_line_prefix = '%m [%p] app=%a '")
            conn.execute("SELECT pg_reload_conf()")
        stack = Stack(stack.postgres, audit_url, stack.reference)
        answered: Counter[int] = Counter()
        per_function: dict[str, Any] = {}
        log_path = cluster.data_dir / "server.log"
        with function_environment(stack), open(os.devnull, "w") as sink:
            for intent, name in FUNCTIONS.items():
                handler = lambda_handler(OPERATIONS[intent])
                context = LambdaContext(function_name=name)
                with contextlib.redirect_stdout(sink):
                    # The first invocation connects; the rest are what a warm container does.
                    handler(http_event(intent, 0, "log"), context)
                    time.sleep(0.3)
                    start = log_path.stat().st_size
                    for n in range(1, invocations + 1):
                        answered[
                            int(handler(http_event(intent, n, "log"), context)["statusCode"])
                        ] += 1
                time.sleep(0.3)
                with log_path.open("rb") as log_file:
                    log_file.seek(start)
                    warm = read_log(log_file.read().decode(errors="replace"))
                per_function[name] = {
                    "statements_per_invocation": {
                        verb: n / invocations for verb, n in warm["statements"].items()
                    },
                    "round_trips_per_invocation": sum(warm["statements"].values()) / invocations,
                }
                handler.entry.runtime.close()  # type: ignore[attr-defined]
        log = log_path.read_text(errors="replace")
    LOG_COPY.parent.mkdir(parents=True, exist_ok=True)
    LOG_COPY.write_text(log)
    return {
        "invocations": sum(answered.values()),
        "statuses": dict(answered),
        "per_function": per_function,
    } | read_log(log)
