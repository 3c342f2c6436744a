"""Fixtures for the trust tests: a login role with a password, and a scratch copy database."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql

from devstack import migrate
from devstack.pg_urls import with_login
from devstack.postgres import FoundPostgres, scratch_database
from tests.integration.conftest import api_url, handlers, make_entry

__all__ = ["api_url", "handlers", "make_entry"]


@dataclass(frozen=True)
class AppLogin:
    """A login user granted the functions' role, the way a deployment grants it."""

    user: str
    password: str
    url: str


@pytest.fixture(scope="session")
def app_login(pg_server: FoundPostgres, database_url: str) -> Iterator[AppLogin]:
    user = f"ia_app_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    password = "pw-" + secrets.token_urlsafe(18)
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(
            f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{password}' IN ROLE insurance_agent_app"
        )
    # Same server, same way in (TCP or the embedded server's socket directory), another login.
    url = with_login(database_url, user, password)
    yield AppLogin(user, password, url)
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (user,)
        )
        conn.execute(f'DROP ROLE IF EXISTS "{user}"')


@pytest.fixture(scope="module")
def copy_url(pg_server: FoundPostgres) -> Iterator[str]:
    """A second, migrated database to tamper with: the real trail is never touched."""
    name = f"ia_copy_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with scratch_database(pg_server.url, name) as url:
        migrate.apply(url, only="app")
        yield url


def copy_chain(
    source_url: str, target_url: str, conversation_id: str, *, from_position: int = 1
) -> int:
    """Copy a conversation's rows verbatim (COPY keeps jsonb text as stored) as the migrator;
    how many rows of it the target holds."""
    query = sql.SQL(
        "COPY (SELECT * FROM agent_interactions WHERE conversation_id = {} AND chain_seq >= {} "
        "ORDER BY chain_seq) TO STDOUT"
    ).format(sql.Literal(conversation_id), sql.Literal(from_position))
    with (
        psycopg.connect(source_url) as source,
        psycopg.connect(target_url) as target,
    ):
        target.execute("SET ROLE insurance_agent_migrator")
        with (
            source.cursor().copy(query) as out,
            target.cursor().copy("COPY agent_interactions FROM STDIN") as into,
        ):
            for block in out:
                into.write(block)
        count = target.execute(
            "SELECT count(*) FROM agent_interactions WHERE conversation_id = %s",
            (conversation_id,),
        ).fetchone()
    return int(count[0]) if count else 0


def as_migrator(url: str, sql: str, params: Any = None) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("SET ROLE insurance_agent_migrator")
        conn.execute(sql, params)


Runner = Callable[..., tuple[int, str]]


@pytest.fixture
def run_ops(capsys: pytest.CaptureFixture[str]) -> Runner:
    """Run ``python -m ops`` in-process: its exit code and what it printed."""
    from ops.__main__ import main

    def run(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(argv))
        return code, capsys.readouterr().out

    return run
