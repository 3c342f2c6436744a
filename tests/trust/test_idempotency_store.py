"""The idempotency persistence layer against the real PostgreSQL: take, read, complete, delete;
take-over of expired and timed-out records only; one winner among concurrent takers; a
container that dies mid-action holds its key no longer than its invocation could run; and the
purge of expired records."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from insurance_agent.context import CallContext
from insurance_agent.database import Database
from insurance_agent.errors import IdempotencyConflict, RequestInProgress
from insurance_agent.idempotency import PostgresIdempotency
from insurance_agent.idempotency_store import PostgresPersistenceLayer
from insurance_agent.models import Money
from insurance_agent.settings import Settings

from devstack.events import LambdaContext
from ops.idempotency import GRACE, purge_expired


@pytest.fixture
def database(function_env: dict[str, str]) -> Iterator[Database]:
    db = Database(Settings())
    yield db
    db.close()


@pytest.fixture
def store(database: Database) -> PostgresPersistenceLayer:
    return PostgresPersistenceLayer(database)


def _now_s(offset: float = 0) -> int:
    return int(time.time() + offset)


def _in_progress(key: str) -> DataRecord:
    return DataRecord(
        idempotency_key=key,
        status="INPROGRESS",
        expiry_timestamp=_now_s(60),
        in_progress_expiry_timestamp=int((time.time() + 10) * 1000),
        payload_hash="hash-a",
    )


def _key() -> str:
    return f"test#{uuid.uuid4().hex}"


def test_a_record_is_taken_read_completed_and_deleted(store):
    key = _key()
    store._put_record(_in_progress(key))
    taken = store._get_record(key)
    assert (taken.status, taken.payload_hash, taken.response_data) == ("INPROGRESS", "hash-a", "")
    assert taken.in_progress_expiry_timestamp is not None
    assert abs(taken.in_progress_expiry_timestamp / 1000 - (time.time() + 10)) < 2

    store._update_record(
        DataRecord(
            idempotency_key=key,
            status="COMPLETED",
            expiry_timestamp=_now_s(3600),
            response_data='{"claim_id": "CLM-000999", "amount": "1.50"}',
            payload_hash="hash-a",
        )
    )
    done = store._get_record(key)
    assert done.status == "COMPLETED"
    assert done.response_json_as_dict() == {"claim_id": "CLM-000999", "amount": "1.50"}
    assert done.expiry_timestamp is not None
    assert done.expiry_timestamp >= _now_s(3590)

    store._delete_record(DataRecord(idempotency_key=key))
    with pytest.raises(IdempotencyItemNotFoundError):
        store._get_record(key)


def _age(url: str, key: str, column: str) -> None:
    """Move one of a record's expiries into the past, as time would."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"UPDATE idempotency_records SET {column} = now() - interval '1 second' "
            "WHERE idempotency_key = %s",
            (key,),
        )


@pytest.mark.parametrize(
    ("aged", "taken"),
    [
        pytest.param(None, False, id="live-in-progress"),
        pytest.param("expires_at", True, id="expired"),
        pytest.param("in_progress_expires_at", True, id="in-progress-timed-out"),
    ],
)
def test_only_an_expired_or_timed_out_record_is_taken_over(store, database_url, aged, taken):
    key = _key()
    store._put_record(_in_progress(key))
    if aged:
        _age(database_url, key, aged)
    newcomer = _in_progress(key)
    newcomer.payload_hash = "hash-b"

    if taken:
        store._put_record(newcomer)
        assert store._get_record(key).payload_hash == "hash-b"
    else:
        with pytest.raises(IdempotencyItemAlreadyExistsError):
            store._put_record(newcomer)
        assert store._get_record(key).payload_hash == "hash-a"


def test_a_completed_record_is_not_taken_over_before_it_expires(store, database_url):
    key = _key()
    store._put_record(_in_progress(key))
    _age(database_url, key, "in_progress_expires_at")  # completed late: still completed
    store._update_record(
        DataRecord(key, status="COMPLETED", expiry_timestamp=_now_s(60), response_data="{}")
    )
    with pytest.raises(IdempotencyItemAlreadyExistsError):
        store._put_record(_in_progress(key))


def test_of_many_concurrent_takers_exactly_one_wins(function_env):
    key = _key()
    takers = 20
    barrier = threading.Barrier(takers)
    outcomes: list[str] = []

    def take() -> None:
        database = Database(Settings())  # its own pool and connection, like its own container
        try:
            layer = PostgresPersistenceLayer(database)
            with database.connection():
                pass
            barrier.wait()
            try:
                layer._put_record(_in_progress(key))
                outcomes.append("taken")
            except IdempotencyItemAlreadyExistsError:
                outcomes.append("exists")
        finally:
            database.close()

    threads = [threading.Thread(target=take) for _ in range(takers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["exists"] * (takers - 1) + ["taken"]


# -- the guard on top: Powertools with these records ---------------------------------------


class _ContainerKilled(BaseException):
    """What a Lambda timeout is to the code: it stops, and nothing after it runs."""


def _ctx(customer_id: str = "cust-7788", key: str = "key-guard-0001") -> CallContext:
    return CallContext(
        request_id=str(uuid.uuid4()),
        function_name="test",
        channel="direct",
        customer_id=customer_id,
        idempotency_key=key,
    )


def test_a_container_killed_mid_action_holds_the_key_only_for_its_remaining_time(database):
    guard = PostgresIdempotency(database, ttl_s=60)
    ctx = _ctx(key=f"killed-{uuid.uuid4().hex[:8]}")
    request = {"what": "a claim"}
    answer = Money(amount=Decimal("1.00"), currency="USD")
    runs: list[str] = []

    def killed() -> Money:
        runs.append("killed")
        raise _ContainerKilled

    def completes() -> Money:
        runs.append("completes")
        return answer

    guard.register_lambda_context(LambdaContext(timeout_s=0.5))
    with pytest.raises(_ContainerKilled):
        guard.once(ctx, "test_op", request, Money, killed)

    guard.register_lambda_context(LambdaContext(timeout_s=10))
    with pytest.raises(RequestInProgress) as refused:
        guard.once(ctx, "test_op", request, Money, completes)
    assert refused.value.details == {"retry_after_s": 1}
    time.sleep(0.7)  # the killed invocation's time is up
    assert guard.once(ctx, "test_op", request, Money, completes) == (answer, False)
    assert guard.once(ctx, "test_op", request, Money, completes) == (answer, True)
    with pytest.raises(IdempotencyConflict):
        guard.once(ctx, "test_op", {"what": "another claim"}, Money, completes)
    assert runs == ["killed", "completes"]


def test_a_failed_action_frees_the_key_for_a_retry(database):
    guard = PostgresIdempotency(database, ttl_s=60)
    guard.register_lambda_context(LambdaContext())
    ctx = _ctx(key=f"fails-{uuid.uuid4().hex[:8]}")
    answer = Money(amount=Decimal("2.00"), currency="USD")

    def fails() -> Money:
        raise RuntimeError("upstream said no")

    with pytest.raises(RuntimeError):
        guard.once(ctx, "test_op", {}, Money, fails)
    assert guard.once(ctx, "test_op", {}, Money, lambda: answer) == (answer, False)


def test_the_same_key_is_a_different_record_per_customer_and_per_operation(database):
    guard = PostgresIdempotency(database, ttl_s=60)
    guard.register_lambda_context(LambdaContext())
    key = f"shared-{uuid.uuid4().hex[:8]}"
    made: list[Any] = []

    def make(n: str) -> Money:
        made.append(n)
        return Money(amount=Decimal(n), currency="USD")

    guard.once(_ctx("cust-7788", key), "op_a", {}, Money, lambda: make("1.00"))
    guard.once(_ctx("cust-9001", key), "op_a", {}, Money, lambda: make("2.00"))
    guard.once(_ctx("cust-7788", key), "op_b", {}, Money, lambda: make("3.00"))
    assert made == ["1.00", "2.00", "3.00"]


# -- purge ----------------------------------------------------------------------------------


def _expire(url: str, key: str, ago: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE idempotency_records SET expires_at = now() - %s::interval "
            "WHERE idempotency_key = %s",
            (ago, key),
        )


def test_purge_deletes_records_expired_longer_than_the_grace_only(store, database_url, run_ops):
    fresh, just_expired, old = _key(), _key(), _key()
    for key in (fresh, just_expired, old):
        store._put_record(_in_progress(key))
    _expire(database_url, just_expired, "1 second")  # a skewed clock's margin: kept a while
    _expire(database_url, old, "10 minutes")

    code, out = run_ops("purge-idempotency", "--database-url", database_url)

    assert code == 0
    purged = out.split()
    assert (purged[0], purged[2:]) == ("purged", ["expired", "idempotency", "record(s)"])
    assert int(purged[1]) >= 1
    store._get_record(fresh)
    store._get_record(just_expired)
    with pytest.raises(IdempotencyItemNotFoundError):
        store._get_record(old)
    with psycopg.connect(database_url) as conn:
        (left,) = conn.execute(  # type: ignore[misc]
            "SELECT count(*) FROM idempotency_records WHERE expires_at < now() - %s::interval",
            (GRACE,),
        ).fetchone()
    assert left == 0


def test_purge_never_deletes_a_record_being_taken_over(store, database_url):
    """A function takes an expired key over (a new expiry) while the purge runs: the purge must
    not delete the record under it, or a second request with the key could file again."""
    key = _key()
    store._put_record(_in_progress(key))
    _expire(database_url, key, "1 hour")
    with psycopg.connect(database_url) as taker:  # the take-over, not committed yet
        taker.execute(
            "UPDATE idempotency_records SET expires_at = now() + interval '1 hour', "
            "status = 'INPROGRESS' WHERE idempotency_key = %s",
            (key,),
        )
        purging = threading.Thread(target=purge_expired, args=(database_url,))
        purging.start()
        time.sleep(0.5)  # the purge reaches the locked row while the take-over holds it
        taker.commit()
        purging.join(timeout=30)
    assert not purging.is_alive()
    assert store._get_record(key).status == "INPROGRESS"
