"""The audit trail's day partitions (migration 0012): made ahead by the scheduled housekeeping
function (and ``python -m ops partitions --ensure``), listed for operators.

Rows whose day has no partition land in ``agent_interactions_default`` rather than fail, so a
housekeeping run that did not happen never costs an answer; ``in_default`` counts them, and the
housekeeping report carries the count so an alarm can watch it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg

# Each run makes the next week: six missed daily runs still leave a partition for every row.
DAYS_AHEAD = 7

LIST_SQL = """
SELECT c.relname,
       pg_catalog.pg_get_expr(c.relpartbound, c.oid),
       c.reltuples::bigint
FROM pg_catalog.pg_inherits i
JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'public.agent_interactions'::regclass
ORDER BY c.relname
"""


@dataclass(frozen=True)
class Partition:
    name: str
    bound: str  # PostgreSQL's own text: FOR VALUES FROM (...) TO (...), or DEFAULT
    estimated_rows: int  # the planner's estimate (-1: never analysed)

    @property
    def day(self) -> date | None:
        """The UTC day of a day partition (None for the default one)."""
        stamp = self.name.removeprefix("agent_interactions_p")
        if stamp == self.name or len(stamp) != 8 or not stamp.isdigit():
            return None
        return date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:]))


def ensure(conn: psycopg.Connection[Any], days_ahead: int = DAYS_AHEAD) -> int:
    """Make today's partition and the next ``days_ahead`` days' if missing; how many were made."""
    row = conn.execute("SELECT agent_interactions_ensure_partitions(%s)", (days_ahead,)).fetchone()
    assert row is not None
    return int(row[0])


def in_default(conn: psycopg.Connection[Any]) -> int:
    """Rows in the default partition: written on a day that had no partition (0 when healthy)."""
    row = conn.execute("SELECT agent_interactions_rows_in_default()").fetchone()
    assert row is not None
    return int(row[0])


def attached(conn: psycopg.Connection[Any]) -> list[Partition]:
    return [Partition(name, bound, rows) for name, bound, rows in conn.execute(LIST_SQL)]
