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
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
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
# Where a completed record goes instead of its own UPDATE, when the caller of
# PostgresIdempotency.once writes it with its answer's audit row (``RecordCompletion``).
deferred_completion: ContextVar[Callable[[RecordCompletion], None] | None] = ContextVar(
    "idempotency_deferred_completion", default=None
)
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

# Its parameters are prefixed: the statement also runs as a ``WITH`` clause of the audit row's
# INSERT (``RecordCompletion``), beside that row's own parameters.
COMPLETE_SQL = """
UPDATE idempotency_records SET
    status = %(record_status)s,
    expires_at = %(record_expires_at)s,
    response_data = %(record_response_data)s::jsonb,
    key_id = %(record_key_id)s::uuid,
    payload_hash = COALESCE(NULLIF(%(record_payload_hash)s, ''), payload_hash),
    updated_at = %(record_now)s
WHERE idempotency_key = %(record_key)s
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

    def _seal(
        self, conn: Any, answer: str | None, customer: str | None
    ) -> tuple[str | None, UUID | None]:
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
        completion = RecordCompletion(self, data_record, current_customer.get())
        defer = deferred_completion.get()
        if defer is not None:
            defer(completion)
            return
        with self._database.connection() as conn:
            conn.execute(COMPLETE_SQL, completion.parameters(conn))

    def completion_parameters(
        self, conn: Any, data_record: DataRecord, customer: str | None
    ) -> dict[str, Any]:
        answer, key_id = self._seal(conn, data_record.response_data, customer)
        return {
            "record_key": data_record.idempotency_key,
            "record_status": data_record.status,
            "record_expires_at": _at_seconds(data_record.expiry_timestamp),
            "record_response_data": answer,
            "record_key_id": key_id,
            "record_payload_hash": data_record.payload_hash,
            "record_now": datetime.now(UTC),
        }

    def _delete_record(self, data_record: DataRecord) -> None:
        with self._database.connection() as conn:
            conn.execute(DELETE_SQL, (data_record.idempotency_key,))


@dataclass(frozen=True)
class RecordCompletion:
    """A completed record's UPDATE, left to the statement that writes the answer's audit row
    (implements ``ports.Completion``): the record completes if and only if that row is written,
    so a replay never meets a completed key whose answer has no row, and the filing saves a
    round trip."""

    layer: PostgresPersistenceLayer
    record: DataRecord
    customer: str | None

    def parameters(self, conn: Any) -> dict[str, Any]:
        return self.layer.completion_parameters(conn, self.record, self.customer)

    def statement(self, conn: Any) -> tuple[str, dict[str, Any]]:
        return f"WITH completed_record AS ({COMPLETE_SQL})", self.parameters(conn)
