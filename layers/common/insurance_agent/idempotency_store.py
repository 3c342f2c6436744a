"""Powertools idempotency records in our PostgreSQL: the persistence layer behind ``idempotency``.

Powertools ships DynamoDB and Redis layers; ``BasePersistenceLayer`` is its extension point.
Every method here is one plain statement on the container's pooled connection (autocommit, no
session state, no sequence, no advisory lock): nothing that pins an RDS Proxy connection.

Taking a key is a single ``INSERT ... ON CONFLICT DO UPDATE`` whose ``WHERE`` lets through only
an expired record, or an in-progress one whose invocation has run out of time. Postgres
serialises concurrent upserts of one key on the row, so of any number of takers exactly one
gets it; every other one is told the record exists and reads it.

The stored answer (``response_data``) is what a replay returns, and nothing else; it is sealed
under the customer's data key (``personal_data``), its ``key_id`` kept beside it, so the table
holds no answer in clear and erasing the customer (``ops erase``) deletes their records. The
customer is not in Powertools' record (its key is a hash): ``PostgresIdempotency.once`` names it
for the call in ``current_customer``.

Times are Powertools' own: the record's expiry in epoch seconds, the in-progress expiry in epoch
milliseconds, both from the container's clock (as the DynamoDB layer does), stored as timestamptz.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from insurance_agent.database import Database
from insurance_agent.personal_data import open_personal, read_keys, seal_value, sealed_key_ids

# The customer whose request the current call serves; set by PostgresIdempotency.once.
current_customer: ContextVar[str | None] = ContextVar("idempotency_customer", default=None)
RESPONSE_FIELD = "response_data"

TAKE_SQL = """
INSERT INTO idempotency_records AS r (
    idempotency_key, status, expires_at, in_progress_expires_at, payload_hash, response_data,
    updated_at
) VALUES (
    %(key)s, %(status)s, %(expires_at)s, %(in_progress_expires_at)s, %(payload_hash)s, NULL,
    %(now)s
)
ON CONFLICT (idempotency_key) DO UPDATE SET
    status = EXCLUDED.status,
    expires_at = EXCLUDED.expires_at,
    in_progress_expires_at = EXCLUDED.in_progress_expires_at,
    payload_hash = EXCLUDED.payload_hash,
    response_data = NULL,
    key_id = NULL,
    updated_at = EXCLUDED.updated_at
WHERE r.expires_at < EXCLUDED.updated_at
   OR (r.status = 'INPROGRESS' AND r.in_progress_expires_at < EXCLUDED.updated_at)
RETURNING idempotency_key
"""

GET_SQL = """
SELECT status, expires_at, in_progress_expires_at, payload_hash, response_data::text
FROM idempotency_records WHERE idempotency_key = %s
"""

COMPLETE_SQL = """
UPDATE idempotency_records SET
    status = %(status)s,
    expires_at = %(expires_at)s,
    response_data = %(response_data)s::jsonb,
    key_id = %(key_id)s,
    payload_hash = COALESCE(NULLIF(%(payload_hash)s, ''), payload_hash),
    updated_at = %(now)s
WHERE idempotency_key = %(key)s
"""

DELETE_SQL = "DELETE FROM idempotency_records WHERE idempotency_key = %s"


def _at_seconds(epoch_s: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch_s, UTC) if epoch_s is not None else None


def _at_millis(epoch_ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC) if epoch_ms is not None else None


class PostgresPersistenceLayer(BasePersistenceLayer):
    """Powertools' idempotency records in the ``idempotency_records`` table."""

    def __init__(self, database: Database) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Powertools leaves it untyped
        self._database = database

    def _get_record(self, idempotency_key: str) -> DataRecord:
        with self._database.connection() as conn:
            row = conn.execute(GET_SQL, (idempotency_key,)).fetchone()
            if row is None:
                raise IdempotencyItemNotFoundError
            status, expires_at, in_progress_expires_at, payload_hash, response_data = row
            answer = self._open(conn, response_data) if response_data else ""
        return DataRecord(
            idempotency_key=idempotency_key,
            status=status,
            expiry_timestamp=int(expires_at.timestamp()),
            in_progress_expiry_timestamp=(
                int(in_progress_expires_at.timestamp() * 1000)
                if in_progress_expires_at is not None
                else None
            ),
            response_data=answer,
            payload_hash=payload_hash,
        )

    def _open(self, conn: Any, stored: str) -> str:
        """The stored answer in clear; a record whose key was erased is as good as gone."""
        value = json.loads(stored)
        ids = sealed_key_ids(value)
        if not ids:
            return stored  # written before answers were sealed (migration 0006)
        keys = read_keys(conn, ids, self._database.customer_keys.wrapper)
        opened = open_personal({RESPONSE_FIELD: value}, keys)[RESPONSE_FIELD]
        if not isinstance(opened, str):
            raise IdempotencyItemNotFoundError
        return opened

    def _seal(self, conn: Any, answer: str | None) -> tuple[str | None, UUID | None]:
        customer = current_customer.get()
        if not answer or customer is None:
            return answer, None
        key = self._database.customer_keys.live_key(conn, customer)
        return json.dumps(seal_value(answer, RESPONSE_FIELD, key)), key.key_id

    def _put_record(self, data_record: DataRecord) -> None:
        with self._database.connection() as conn:
            taken = conn.execute(
                TAKE_SQL,
                {
                    "key": data_record.idempotency_key,
                    "status": data_record.status,
                    "expires_at": _at_seconds(data_record.expiry_timestamp),
                    "in_progress_expires_at": _at_millis(data_record.in_progress_expiry_timestamp),
                    "payload_hash": data_record.payload_hash,
                    "now": datetime.now(UTC),
                },
            ).fetchone()
        if taken is None:
            # A live record: Powertools reads it and replays, refuses or reports a conflict.
            raise IdempotencyItemAlreadyExistsError

    def _update_record(self, data_record: DataRecord) -> None:
        with self._database.connection() as conn:
            answer, key_id = self._seal(conn, data_record.response_data)
            conn.execute(
                COMPLETE_SQL,
                {
                    "key": data_record.idempotency_key,
                    "status": data_record.status,
                    "expires_at": _at_seconds(data_record.expiry_timestamp),
                    "response_data": answer,
                    "key_id": key_id,
                    "payload_hash": data_record.payload_hash,
                    "now": datetime.now(UTC),
                },
            )

    def _delete_record(self, data_record: DataRecord) -> None:
        with self._database.connection() as conn:
            conn.execute(DELETE_SQL, (data_record.idempotency_key,))
