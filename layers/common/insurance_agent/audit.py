"""The audit writer: ``agent_interactions`` rows in PostgreSQL, append-only.

Ids are UUIDv7 made here (time-ordered, so the primary key index stays append-mostly) rather
than a sequence, because ``nextval`` pins an RDS Proxy connection.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb
from uuid6 import uuid7

from insurance_agent.database import Database
from insurance_agent.models import utc_now
from insurance_agent.ports import AuditEntry

INSERT_SQL = """
INSERT INTO agent_interactions (
    id, created_at, conversation_id, customer_id, intent, outcome, error_code,
    payload, result, request_id, function_name, channel, principal,
    idempotency_key, duration_ms, intent_id
) VALUES (
    %(id)s, %(created_at)s, %(conversation_id)s, %(customer_id)s, %(intent)s, %(outcome)s,
    %(error_code)s, %(payload)s, %(result)s, %(request_id)s, %(function_name)s, %(channel)s,
    %(principal)s, %(idempotency_key)s, %(duration_ms)s, %(intent_id)s
)
"""


def storable(value: Any) -> Any:
    """``value`` with every NUL in its strings and keys made visible as U+FFFD: jsonb (like any
    Postgres text) cannot hold U+0000, and a refusal of such input must still be recorded."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def row_values(entry: AuditEntry, *, row_id: UUID, created_at: datetime) -> dict[str, Any]:
    return {
        "id": row_id,
        "created_at": created_at,
        "conversation_id": entry.conversation_id,
        "customer_id": entry.customer_id,
        "intent": entry.intent,
        "outcome": entry.outcome,
        "error_code": entry.error_code,
        "payload": Jsonb(storable(entry.payload)),
        "result": Jsonb(storable(entry.result)) if entry.result is not None else None,
        "request_id": entry.request_id,
        "function_name": entry.function_name,
        "channel": entry.channel,
        "principal": entry.principal,
        "idempotency_key": entry.idempotency_key,
        "duration_ms": round(entry.duration_ms, 3) if entry.duration_ms is not None else None,
        "intent_id": entry.intent_id,
    }


class PostgresAuditStore:
    """Implements ``ports.AuditStore``; raises ``AuditUnavailable`` when it cannot write."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def record(self, entry: AuditEntry) -> UUID:
        row_id = UUID(bytes=uuid7().bytes)
        with self._database.connection() as conn:
            conn.execute(INSERT_SQL, row_values(entry, row_id=row_id, created_at=utc_now()))
        return row_id
