"""The pool's checkout check, without a round trip for a connection in use a moment ago.

``ConnectionPool.check_connection`` sends an empty statement on every checkout: one more round
trip per database write, although a warm container's connection was last used milliseconds ago.
``CheckAfterIdle`` keeps the full check for a connection idle longer than ``idle_s`` (an RDS
Proxy idle timeout or a failover may have closed it) and, for one used within ``idle_s``, reads
what the server may have sent meanwhile without waiting (``PQconsumeInput``): a closed socket or
a ``FATAL`` from a terminated backend (``pg_terminate_backend``, a proxy closing the client
connection) turns the connection bad there, and the full check then runs, fails, and the pool
replaces the connection before the request uses it. What stays undetected inside ``idle_s`` is
a peer that vanished without a word (a network partition), which the full check could only
find by timing out anyway.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import pq
from psycopg_pool import ConnectionPool

# A connection idle this long gets the full check: long enough that a busy container skips it,
# far below RDS Proxy's shortest client idle timeout that could matter (minutes).
CHECK_AFTER_IDLE_S = 5.0


class CheckAfterIdle:
    """A pool ``check``: the full check unless the connection was used within ``idle_s`` and
    is still sound as far as the client can tell without a round trip."""

    def __init__(
        self,
        idle_s: float = CHECK_AFTER_IDLE_S,
        *,
        full_check: Callable[[Any], None] = ConnectionPool.check_connection,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_s = idle_s
        self._full_check = full_check
        self._clock = clock
        self._last_used: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def used(self, conn: psycopg.Connection[Any]) -> None:
        """``conn`` just served a request without error: it is known good as of now."""
        self._last_used[conn] = self._clock()

    def __call__(self, conn: psycopg.Connection[Any]) -> None:
        last = self._last_used.pop(conn, None)
        if last is not None and self._clock() - last < self.idle_s and _sound(conn.pgconn):
            return
        self._full_check(conn)


def _sound(pgconn: Any) -> bool:
    """Reads, without blocking, whatever the server sent since the last statement: a closed
    socket makes the connection bad (a terminated backend's FATAL comes just before the close,
    so a second read is what sees the end of the stream)."""
    if pgconn.status != pq.ConnStatus.OK:
        return False
    try:
        pgconn.consume_input()
        pgconn.consume_input()
    except psycopg.OperationalError:
        return False
    return bool(
        pgconn.status == pq.ConnStatus.OK and pgconn.transaction_status == pq.TransactionStatus.IDLE
    )
