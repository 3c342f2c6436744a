"""The schema as migrated: append-only audit table, least-privilege app role, idempotent apply."""

from __future__ import annotations

import psycopg
import pytest

from devstack import migrate


def test_migrations_are_idempotent(database_url):
    assert migrate.apply(database_url) == 0


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE agent_interactions SET outcome = 'ok'",
        "DELETE FROM agent_interactions",
        "TRUNCATE agent_interactions",
    ],
)
def test_audit_rows_cannot_be_changed(database_url, statement, handlers, fresh_reference):
    from tests.integration.conftest import headers_for, lookup

    lookup(handlers["PolicyLookupFunction"], "POL-10001", headers_for("conv-append-only"))
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


def _privileges(database_url: str, grantee: str, table: str) -> set[str]:
    with psycopg.connect(database_url) as conn:
        return {
            row[0]
            for row in conn.execute(
                "SELECT privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = %s AND table_name = %s",
                (grantee, table),
            )
        }


def test_app_role_may_insert_and_read_only(database_url):
    assert _privileges(database_url, "insurance_agent_app", "agent_interactions") == {
        "INSERT",
        "SELECT",
    }


def test_app_role_may_read_take_complete_and_delete_idempotency_records_only(database_url):
    privileges = _privileges(database_url, "insurance_agent_app", "idempotency_records")
    assert privileges == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert _privileges(database_url, "PUBLIC", "idempotency_records") == set()


def test_the_idempotency_migration_rolls_back_and_forward(pg_server):
    import uuid

    from yoyo import get_backend, read_migrations

    from devstack.postgres import scratch_database

    with scratch_database(pg_server.url, f"ia_idem_{uuid.uuid4().hex[:8]}") as url:
        migrate.apply(url, only="app")
        backend = get_backend(migrate.yoyo_url(url))
        migrations = read_migrations(str(migrate.SOURCES["app"]))
        idempotency = migrations.filter(lambda m: m.id == "0004_idempotency")
        with backend.lock():
            backend.rollback_migrations(idempotency)
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass('idempotency_records')").fetchone() == (None,)
        assert migrate.apply(url, only="app") == 1
