"""The embedded-Postgres fallback: URLs derived from the found server keep its way in, and in
.ci/run's second pass (PG_LOCAL_UNREACHABLE=1, tools/embedded-pass.sh) nothing can reach the
machine's server, so a test that lost the socket directory fails instead of passing there."""

from __future__ import annotations

import os
import socket

import psycopg
import pytest

from devstack.pg_urls import database_of, server_address, with_database, with_login
from devstack.postgres import FoundPostgres

SOCKET_URL = "postgresql://postgres:@/postgres?host=/srv/pg%20data/run"
TCP_URL = "postgresql://app:s%40cret@10.0.0.5:6543/audit?sslmode=require"


@pytest.mark.parametrize("url", [SOCKET_URL, TCP_URL])
def test_deriving_urls_changes_only_what_was_asked(url):
    before = psycopg.conninfo.conninfo_to_dict(url)
    other_db = psycopg.conninfo.conninfo_to_dict(with_database(url, "ia_x"))
    assert other_db == before | {"dbname": "ia_x"}
    other_login = psycopg.conninfo.conninfo_to_dict(with_login(url, "bob", "p@ss word"))
    expected = {k: v for k, v in before.items() if k != "password"}
    assert other_login == expected | {"user": "bob", "password": "p@ss word"}
    assert database_of(with_database(url, "ia_x")) == "ia_x"


def test_server_address_names_the_socket_directory():
    assert server_address(SOCKET_URL) == "socket /srv/pg data/run"
    assert server_address(TCP_URL) == "10.0.0.5:6543"


def test_the_scratch_database_keeps_the_servers_way_in(pg_server: FoundPostgres, database_url):
    server = psycopg.conninfo.conninfo_to_dict(pg_server.url)
    scratch = psycopg.conninfo.conninfo_to_dict(database_url)
    assert scratch.get("host") == server.get("host")
    assert int(scratch.get("port") or 5432) == int(server.get("port") or 5432)
    with psycopg.connect(database_url) as conn, psycopg.connect(pg_server.url) as admin:
        assert (conn.info.host, conn.info.port) == (admin.info.host, admin.info.port)


@pytest.mark.skipif(
    os.environ.get("PG_LOCAL_UNREACHABLE") != "1",
    reason="only in .ci/run's second pass (tools/embedded-pass.sh)",
)
def test_in_the_embedded_pass_the_machines_server_is_out_of_reach(pg_server: FoundPostgres):
    assert pg_server.source.startswith("embedded"), pg_server.source
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", 5432), timeout=2):
        pass
    # libpq's default (a URL that lost its host): the machine's socket is not there either.
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect("postgresql://postgres@/postgres", connect_timeout=2).close()
