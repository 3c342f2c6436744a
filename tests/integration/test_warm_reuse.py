"""A warm container reuses its one database connection and its one upstream connection."""

from __future__ import annotations

import psycopg

from tests.integration.conftest import headers_for, lookup


def _server_backends(database_url: str) -> set[int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'insurance-agent-api'"
        ).fetchall()
    return {r[0] for r in rows}


def test_two_invocations_open_one_db_and_one_upstream_connection(
    make_entry, fresh_reference, database_url, conversation_id
):
    entry = make_entry("policy_lookup")  # a new container
    before = _server_backends(database_url)

    first = lookup(entry.handler, "POL-10001", headers_for(conversation_id))
    after_first = _server_backends(database_url)
    second = lookup(entry.handler, "POL-10001", headers_for(conversation_id))
    after_second = _server_backends(database_url)

    assert first.status == second.status == 200
    new_backends = after_first - before
    assert len(new_backends) == 1  # the server saw exactly one new connection...
    assert after_second - before == new_backends  # ...and the second call used it again
    assert entry.runtime.database.stats()["connections_num"] == 1
    with fresh_reference.admin() as admin:
        stats = admin.get("/_admin/stats").json()
    assert stats["requests"] == 2
    assert len(stats["peers"]) == 1  # one TCP connection carried both upstream requests
