"""The pool's checkout check (insurance_agent/pool_check.py): no round trip for a connection
used a moment ago, and still a fresh connection after the server or a proxy closed it, whether
the container was busy or idle a long time."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from insurance_agent.pool_check import CheckAfterIdle
from psycopg_pool import ConnectionPool

APP = "pool-check-test"


class Spy:
    """The full check, counted."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, conn: Any) -> None:
        self.calls += 1
        ConnectionPool.check_connection(conn)


def _pool(url: str, check: CheckAfterIdle, **kwargs: Any) -> ConnectionPool[Any]:
    pool: ConnectionPool[Any] = ConnectionPool(
        url,
        kwargs={"autocommit": True, "prepare_threshold": None, "application_name": APP} | kwargs,
        min_size=1,
        max_size=1,
        open=False,
        check=check,
        timeout=5,
        num_workers=1,
    )
    pool.open(wait=True)
    return pool


def _use(pool: ConnectionPool[Any], check: CheckAfterIdle) -> int:
    """One request's use of the pool, as ``Database.connection`` does it: the backend's pid."""
    with pool.connection() as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        check.used(conn)
    assert row is not None
    return int(row[0])


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        # With a timeout the call returns once the backend is gone, not merely signalled.
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


@pytest.fixture
def spy() -> Spy:
    return Spy()


def test_a_connection_used_a_moment_ago_is_not_checked_with_a_round_trip(database_url, spy):
    check = CheckAfterIdle(60.0, full_check=spy)
    with _pool(database_url, check) as pool:
        first = _use(pool, check)
        checks_after_first = spy.calls  # the first checkout has no known use: checked
        for _ in range(5):
            assert _use(pool, check) == first

    assert checks_after_first == 1
    assert spy.calls == 1


def test_a_connection_idle_longer_than_the_limit_is_checked(database_url, spy):
    check = CheckAfterIdle(0.2, full_check=spy)
    with _pool(database_url, check) as pool:
        first = _use(pool, check)
        time.sleep(0.3)
        assert _use(pool, check) == first

    assert spy.calls == 2


def test_a_terminated_backend_is_replaced_before_use_even_inside_the_window(database_url, spy):
    """Busy container: its backend killed between two requests (a failover, a proxy closing
    the client connection); no full check is due, yet the next request gets a live one."""
    check = CheckAfterIdle(60.0, full_check=spy)
    with _pool(database_url, check) as pool:
        first = _use(pool, check)
        _terminate(database_url, first)

        second = _use(pool, check)

    assert second != first
    assert spy.calls >= 2  # the dead one was given the full check, which failed


def test_a_terminated_backend_after_idling_is_replaced(database_url, spy):
    check = CheckAfterIdle(0.2, full_check=spy)
    with _pool(database_url, check) as pool:
        first = _use(pool, check)
        time.sleep(0.3)
        _terminate(database_url, first)

        assert _use(pool, check) != first


def test_a_long_idle_closed_by_the_server_is_replaced(database_url, spy):
    """The server closes the idle session itself, as RDS Proxy's client idle timeout does; the
    container comes back after a long idle and its request is served."""
    check = CheckAfterIdle(60.0, full_check=spy)
    with _pool(database_url, check, options="-c idle_session_timeout=300") as pool:
        first = _use(pool, check)
        time.sleep(1.0)

        second = _use(pool, check)

    assert second != first
