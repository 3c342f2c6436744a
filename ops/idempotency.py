"""Purge expired idempotency records (migration 0004): ``python -m ops purge-idempotency``.

An expired record is already dead to the functions (the next request with its key takes it over
in place); the purge only keeps the table from growing with keys nobody sends again. Deletes in
batches, so each statement holds its row locks briefly while the functions keep writing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

PURGE_SQL = """
DELETE FROM idempotency_records WHERE idempotency_key IN (
    SELECT idempotency_key FROM idempotency_records WHERE expires_at < %s LIMIT %s
)
"""


def purge_expired(url: str, *, now: datetime | None = None, batch: int = 5000) -> int:
    """Delete the records that expired before ``now``; how many went."""
    cutoff = now or datetime.now(UTC)
    purged = 0
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            deleted = conn.execute(PURGE_SQL, (cutoff, batch)).rowcount
            purged += deleted
            if deleted < batch:
                return purged
