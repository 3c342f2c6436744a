"""Working state that expires: idempotency records past their TTL, deleted in small batches.

An expired record is already dead to the functions (the next request with its key takes it over
in place); the purge keeps the table from growing with keys nobody sends again, and keeps no
answer (sealed as they are, see ``idempotency_store``) longer than its TTL. Run by
``python -m ops purge-idempotency`` and by the scheduled housekeeping function; it is safe while
the functions serve:

- it deletes in batches, so each statement holds its row locks briefly;
- it skips rows another transaction holds (a function taking the key over right now) and
  re-checks the expiry on the row it deletes, so a record taken over after it was chosen, with a
  new expiry, is never deleted under the function that holds it (which could then let a second
  request with the same key file again);
- the cutoff is the database's clock minus a grace period: the functions stamp expiries with
  their own clocks, and a small skew must not delete a record a function still replays.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg

GRACE = timedelta(minutes=5)

PURGE_SQL = """
DELETE FROM idempotency_records
WHERE idempotency_key IN (
    SELECT idempotency_key FROM idempotency_records
    WHERE expires_at < %(cutoff)s
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
AND expires_at < %(cutoff)s
"""


def purge_expired_idempotency(
    conn: psycopg.Connection[Any],
    *,
    now: datetime | None = None,
    batch: int = 5000,
    grace: timedelta = GRACE,
) -> int:
    """Delete the records that expired more than ``grace`` before ``now`` (default: the
    database's clock), on an autocommit connection; how many went."""
    if now is None:
        row = conn.execute("SELECT now()").fetchone()
        assert row is not None
        now = row[0]
    assert now is not None
    cutoff = now - grace
    purged = 0
    while True:
        deleted = conn.execute(PURGE_SQL, {"cutoff": cutoff, "batch": batch}).rowcount
        purged += deleted
        if deleted < batch:
            return purged
