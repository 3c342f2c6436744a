"""No server-side prepared statements on the container's connection, shown by behaviour: the
same audit INSERT runs ten times through one container (psycopg prepares a statement once it
has run ``prepare_threshold`` times, 5 by default), then the server is asked, on that very
connection, what it holds prepared. A prepared statement pins an RDS Proxy connection to its
client for good, and is gone after a PgBouncer transaction-mode hop (see docs/trust.md)."""

from __future__ import annotations

from tests.integration.conftest import headers_for, lookup

RUNS = 10


def test_repeated_statements_are_never_prepared_on_the_server(
    make_entry, fresh_reference, audit_rows, conversation_id
):
    entry = make_entry("policy_lookup")
    for _ in range(RUNS):
        assert lookup(entry.handler, "POL-10001", headers_for(conversation_id)).status == 200
    assert len(audit_rows(conversation_id)) == RUNS

    database = entry.runtime.database
    assert database is not None
    assert database.pool.get_stats()["pool_size"] == 1  # one connection ran all ten INSERTs
    with database.connection() as conn:
        # pg_prepared_statements lists this session's statements only: asked on the same one.
        prepared = conn.execute("SELECT name, statement FROM pg_prepared_statements").fetchall()

    assert prepared == []  # with psycopg's default (5) the audit INSERT shows here
