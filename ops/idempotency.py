"""Purge expired idempotency records (migration 0004): ``python -m ops purge-idempotency``.
The same purge the scheduled IdempotencyPurgeFunction runs: see ``insurance_agent.housekeeping``
for why it is safe while the functions serve."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from insurance_agent.housekeeping import GRACE, PURGE_SQL, purge_expired_idempotency

__all__ = ["GRACE", "PURGE_SQL", "purge_expired"]


def purge_expired(
    url: str, *, now: datetime | None = None, batch: int = 5000, grace: timedelta = GRACE
) -> int:
    """Delete the records that expired more than ``grace`` before ``now`` (default: the
    database's clock); how many went."""
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        return purge_expired_idempotency(conn, now=now, batch=batch, grace=grace)
