"""Nothing left pending: a claim intent whose result row never came gets one from the
reconciler, learnt from upstream by the idempotency key the filing sent.

The filing runs for real (operations.create_claim, the reference service over HTTP, the audit
and idempotency stores on PostgreSQL); what fails is the database itself, closed to every
connection between the upstream filing and the result row, or the function, killed right
after it wrote the intent."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from insurance_agent.audit import PostgresAuditStore
from insurance_agent.context import CallContext
from insurance_agent.database import Database
from insurance_agent.errors import AuditUnavailable
from insurance_agent.idempotency import PostgresIdempotency
from insurance_agent.models import ClaimRequest
from insurance_agent.operations import Services, create_claim, upstream_idempotency_key
from insurance_agent.ports import AuditEntry
from insurance_agent.reconcile import NOT_FILED, reconcile
from insurance_agent.settings import Settings
from insurance_agent.upstream import InsuranceApiClient

from devstack.events import LambdaContext
from devstack.stack import ReferenceService
from tests.integration.conftest import claim_body


class Killed(BaseException):
    """The function's process ending mid-invocation (a timeout, an out-of-memory kill): not an
    Exception, so nothing in the operation gets to write an answer."""


def _set_connections(server_url: str, database: str, allowed: bool) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )


class DatabaseDiesBeforeTheResult:
    """The real audit store; the database goes away just before the second row (the result)."""

    def __init__(self, store: PostgresAuditStore, kill: Any) -> None:
        self._store, self._kill, self.calls = store, kill, 0

    def record(self, entry: AuditEntry, **kwargs: Any) -> uuid.UUID:
        self.calls += 1
        if self.calls == 2:
            self._kill()
        return self._store.record(entry, **kwargs)


class DiesAfterTheIntent:
    def __init__(self, upstream: InsuranceApiClient) -> None:
        self._upstream = upstream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._upstream, name)

    def file_claim(self, *args: Any, **kwargs: Any) -> Any:
        raise Killed


@pytest.fixture
def stack(log_db: str, fresh_reference: ReferenceService) -> Iterator[dict[str, Any]]:
    """The claim function's container, and the reconciler's (a function of its own)."""
    settings = Settings(
        database_url=log_db,
        fastapi_insurance_base_url=fresh_reference.url,
        fastapi_insurance_api_key=fresh_reference.api_key,
        db_pool_timeout_s=1.0,
    )
    database, reconciler_db = Database(settings), Database(settings, name="reconciler")
    writer = Database(settings, name="reconciler-audit")
    client = InsuranceApiClient(fresh_reference.url, lambda: fresh_reference.api_key)
    yield {
        "database": database,
        "reconciler_db": reconciler_db,
        "writer": PostgresAuditStore(writer),
        "client": client,
    }
    for db in (database, reconciler_db, writer):
        db.close()
    client.close()


def _ctx(conversation_id: str, key: str) -> CallContext:
    return CallContext(
        request_id=f"req-{uuid.uuid4().hex[:8]}",
        function_name="ClaimCreateFunction",
        channel="direct",
        conversation_id=conversation_id,
        customer_id="cust-7788",
        idempotency_key=key,
    )


def _rows(url: str, conversation_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "SELECT id, outcome, error_code, intent_id, result, function_name"
            " FROM agent_interactions WHERE conversation_id = %s ORDER BY created_at, id",
            (conversation_id,),
        ).fetchall()


def _upstream_claims(reference: ReferenceService, key: str) -> list[dict[str, Any]]:
    with reference.admin() as http:
        answer = http.get("/v1/claims", params={"idempotency_key": key})
    answer.raise_for_status()
    return list(answer.json())


def test_a_filing_whose_database_died_before_the_result_is_settled_ok(
    stack, log_db, pg_server, fresh_reference
):
    database, client = stack["database"], stack["client"]
    name = psycopg.conninfo.conninfo_to_dict(log_db)["dbname"]
    audit = DatabaseDiesBeforeTheResult(
        PostgresAuditStore(database), lambda: _set_connections(pg_server.url, name, False)
    )
    idempotency = PostgresIdempotency(database, ttl_s=3600)
    # The invocation's time bounds how long its key stays in progress: its record completes
    # only with the result row, which never comes.
    idempotency.register_lambda_context(LambdaContext(timeout_s=1.0))
    services = Services(upstream=client, audit=audit, idempotency=idempotency)
    conversation, key = f"conv-{uuid.uuid4().hex[:10]}", f"key-{uuid.uuid4().hex}"
    request = ClaimRequest.model_validate(claim_body())
    try:
        with pytest.raises(AuditUnavailable):
            create_claim(services, _ctx(conversation, key), request)
    finally:
        _set_connections(pg_server.url, name, True)
    [intent] = _rows(log_db, conversation)
    assert intent["outcome"] == "pending"
    ik = upstream_idempotency_key("cust-7788", key)
    [filed] = _upstream_claims(fresh_reference, ik)  # upstream did file it

    # Too young: a filing that may still be running is left alone.
    reconciler_db = stack["reconciler_db"]
    assert (
        reconcile(reconciler_db, stack["writer"], client, conversation_id=conversation).settled
        == []
    )
    report = reconcile(
        reconciler_db, stack["writer"], client, min_age=timedelta(0), conversation_id=conversation
    )
    assert [(s.outcome, s.claim_id) for s in report.settled] == [("ok", filed["claim_id"])]
    intent_row, result = _rows(log_db, conversation)
    assert result["intent_id"] == intent_row["id"]
    assert result["outcome"] == "ok"
    assert result["result"]["claim_id"] == filed["claim_id"]
    assert result["result"]["reconciled"] is True
    assert result["function_name"] == "reconciler"
    # Settled once: a second run (or a concurrent one) adds nothing.
    again = reconcile(
        reconciler_db, stack["writer"], client, min_age=timedelta(0), conversation_id=conversation
    )
    assert again.settled == []
    assert len(_rows(log_db, conversation)) == 2
    # The client's retry with its key (in another container), once the dead invocation's time
    # is up: filed again under the same upstream key, so upstream answers the same claim and
    # files nothing new; the retry's intent and answer are rows of their own.
    retried = Services(
        upstream=client,
        audit=PostgresAuditStore(reconciler_db),
        idempotency=PostgresIdempotency(reconciler_db, ttl_s=3600),
    )
    time.sleep(1.1)
    claim = create_claim(retried, _ctx(conversation, key), request)
    assert claim.claim_id == filed["claim_id"]
    assert len(_upstream_claims(fresh_reference, ik)) == 1
    assert [r["outcome"] for r in _rows(log_db, conversation)][2:] == ["pending", "ok"]


def test_a_function_killed_after_the_intent_is_settled_as_not_filed(stack, log_db, fresh_reference):
    database, client = stack["database"], stack["client"]
    services = Services(
        upstream=DiesAfterTheIntent(client),  # type: ignore[arg-type]
        audit=PostgresAuditStore(database),
        idempotency=PostgresIdempotency(database, ttl_s=3600),
    )
    conversation, key = f"conv-{uuid.uuid4().hex[:10]}", f"key-{uuid.uuid4().hex}"
    with pytest.raises(Killed):
        create_claim(services, _ctx(conversation, key), ClaimRequest.model_validate(claim_body()))
    [intent] = _rows(log_db, conversation)
    assert intent["outcome"] == "pending"
    report = reconcile(
        database, stack["writer"], client, min_age=timedelta(0), conversation_id=conversation
    )
    assert [(s.outcome, s.claim_id) for s in report.settled] == [("error", None)]
    _, result = _rows(log_db, conversation)
    assert (result["outcome"], result["error_code"]) == ("error", NOT_FILED)
    assert result["intent_id"] == intent["id"]
    assert _upstream_claims(fresh_reference, upstream_idempotency_key("cust-7788", key)) == []


def test_concurrent_reconcilers_write_one_result_row(stack, log_db, fresh_reference):
    database, client = stack["database"], stack["client"]
    services = Services(
        upstream=DiesAfterTheIntent(client),  # type: ignore[arg-type]
        audit=PostgresAuditStore(database),
        idempotency=PostgresIdempotency(database, ttl_s=3600),
    )
    conversation, key = f"conv-{uuid.uuid4().hex[:10]}", f"key-{uuid.uuid4().hex}"
    with pytest.raises(Killed):
        create_claim(services, _ctx(conversation, key), ClaimRequest.model_validate(claim_body()))
    settings = Settings(
        database_url=log_db,
        fastapi_insurance_base_url=fresh_reference.url,
        fastapi_insurance_api_key=fresh_reference.api_key,
    )
    databases = [Database(settings, name=f"reconciler-{n}") for n in range(4)]
    start = threading.Barrier(len(databases))

    def one(db: Database) -> int:
        start.wait()
        writer = Database(settings, name=f"{db.pool.name}-audit")
        try:
            report = reconcile(
                db,
                PostgresAuditStore(writer),
                client,
                min_age=timedelta(0),
                conversation_id=conversation,
            )
        finally:
            writer.close()
        return len(report.settled)

    try:
        with ThreadPoolExecutor(len(databases)) as pool:
            settled = list(pool.map(one, databases))
    finally:
        for db in databases:
            db.close()
    assert sum(settled) == 1
    assert [r["outcome"] for r in _rows(log_db, conversation)] == ["pending", "error"]
