"""Erase a customer's personal data: ``python -m ops erase --customer cust-7788``.

Destroys the customer's data keys (migration 0006; docs/audit.md "Right to erasure"): every
personal field sealed under them, in the audit trail and in idempotency records, becomes
unreadable for good, while the rows themselves and their hash chains stay as they were, so
``ops verify`` still passes. The key rows stay as tombstones (which key, when erased); the
idempotency records the keys sealed are deleted. Runs as a login holding
``insurance_agent_eraser`` (or the owner); one transaction.

What it cannot reach: the key bytes in dead row versions until VACUUM, in WAL archives and in
backups until they expire (in AWS the keys are KMS-wrapped, so those copies are useless without
the KMS key; a customer's erasure is complete once the backup retention period has passed).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

ERASE_SQL = """
UPDATE customer_keys SET wrapped_key = NULL, erased_at = clock_timestamp()
WHERE customer_id = %s AND erased_at IS NULL
RETURNING key_id
"""
DELETE_RECORDS_SQL = "DELETE FROM idempotency_records WHERE key_id = ANY(%s)"


@dataclass(frozen=True)
class Erasure:
    keys: int
    idempotency_records: int


def erase_customer(url: str, customer_id: str) -> Erasure:
    with psycopg.connect(url, prepare_threshold=None) as conn:  # one transaction
        erased = [row[0] for row in conn.execute(ERASE_SQL, (customer_id,))]
        deleted = conn.execute(DELETE_RECORDS_SQL, (erased,)).rowcount if erased else 0
    return Erasure(len(erased), deleted)
