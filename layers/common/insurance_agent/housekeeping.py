"""Working state that expires: idempotency records past their TTL, deleted in small batches.

An expired record is already dead to the functions (the next request with its key takes it
over in place); purging only keeps the table from growing with keys nobody sends again. Each
batch is its own short statement, so its row locks are held briefly while the functions write.
Run by ``python -m ops purge-idempotency`` and by the scheduled housekeeping function.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from insurance_agent.models import utc_now

PURGE_SQL = """
DELETE FROM idempotency_records WHERE idempotency_key IN (
    SELECT idempotency_key FROM idempotency_records WHERE expires_at < %s LIMIT %s
)
"""


def purge_expired_idempotency(
    conn: psycopg.Connection[Any], *, now: datetime | None = None, batch: int = 5000
) -> int:
    """Delete the records that expired before ``now`` (autocommit connection); how many went."""
    cutoff = now or utc_now()
    purged = 0
    while True:
        deleted = conn.execute(PURGE_SQL, (cutoff, batch)).rowcount
        purged += deleted
        if deleted < batch:
            return purged
