"""Fixtures for the transparency log: a migrated scratch database per test (tests here rewrite
history on purpose), a signing key, and audit rows written by the real writer."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from insurance_agent.audit import PostgresAuditStore
from insurance_agent.database import Database
from insurance_agent.ports import AuditEntry
from insurance_agent.settings import Settings
from insurance_agent.transparency.signer import LocalEd25519Signer

from devstack import migrate
from devstack.postgres import FoundPostgres, scratch_database
from tests.trust.conftest import run_ops

__all__ = ["run_ops"]

ORIGIN = "insurance-agent-api.test/audit"


@pytest.fixture
def log_db(pg_server: FoundPostgres) -> Iterator[str]:
    name = f"ia_tlog_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with scratch_database(pg_server.url, name) as url:
        migrate.apply(url, only="app")
        yield url


@pytest.fixture
def signer() -> LocalEd25519Signer:
    return LocalEd25519Signer.generate(ORIGIN)


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The development key `python -m ops` signs with, in a file of this test's own."""
    path = tmp_path / "ed25519.seed"
    monkeypatch.setenv("TRANSPARENCY_SIGNING_KEY_FILE", str(path))
    monkeypatch.setenv("TRANSPARENCY_ORIGIN", ORIGIN)
    monkeypatch.delenv("TRANSPARENCY_KMS_KEY_ID", raising=False)
    monkeypatch.delenv("TRANSPARENCY_BUCKET", raising=False)
    return path


Writer = Callable[..., list[UUID]]


@pytest.fixture
def write_rows(log_db: str) -> Iterator[Writer]:
    """Audit rows written the way the functions write them (PostgresAuditStore)."""
    database = Database(
        Settings(
            database_url=log_db,
            fastapi_insurance_base_url="http://127.0.0.1:9",
            fastapi_insurance_api_key="unused",
        )
    )
    store = PostgresAuditStore(database)

    def write(count: int, conversation_id: str = "conv-tlog") -> list[UUID]:
        return [
            store.record(
                AuditEntry(
                    intent="policy_lookup",
                    outcome="ok",
                    payload={"policy_number": "POL-10001", "n": n},
                    result={"status": "active"},
                    request_id=f"req-{uuid.uuid4().hex[:8]}",
                    function_name="PolicyLookupFunction",
                    channel="direct",
                    conversation_id=conversation_id,
                    customer_id="cust-7788",
                )
            )
            for n in range(count)
        ]

    yield write
    database.close()


def rewrite_history(url: str, *statements: tuple[str, Any]) -> None:
    """What an administrator with full control of the database can do: wipe the log (its
    append-only triggers switched off), then change the trail as the migration role."""
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("transparency_leaves", "transparency_checkpoints"):
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            conn.execute(f"DELETE FROM {table}")
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    with psycopg.connect(url) as conn:
        conn.execute("SET ROLE insurance_agent_migrator")
        for sql, params in statements:
            conn.execute(sql, params)
