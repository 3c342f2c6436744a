"""Purge expired idempotency records (migration 0004): ``python -m ops purge-idempotency``.

The same purge the scheduled housekeeping function runs (insurance_agent.housekeeping), which
says why it is safe while the functions serve."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from insurance_agent.housekeeping import GRACE, purge_expired_idempotency


def purge_expired(
    url: str, *, now: datetime | None = None, batch: int = 5000, grace: timedelta = GRACE
) -> int:
    """Delete the records that expired more than ``grace`` before ``now``; how many went."""
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        return purge_expired_idempotency(conn, now=now, batch=batch, grace=grace)
