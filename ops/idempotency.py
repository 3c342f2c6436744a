"""Purge expired idempotency records (migration 0004): ``python -m ops purge-idempotency``.
The same purge the scheduled housekeeping function runs (insurance_agent.housekeeping)."""

from __future__ import annotations

from datetime import datetime

import psycopg
from insurance_agent.housekeeping import purge_expired_idempotency


def purge_expired(url: str, *, now: datetime | None = None, batch: int = 5000) -> int:
    """Delete the records that expired before ``now``; how many went."""
    with psycopg.connect(url, autocommit=True) as conn:
        return purge_expired_idempotency(conn, now=now, batch=batch)
