"""The audit writer: ``agent_interactions`` rows in PostgreSQL, append-only.

Ids are UUIDv7 made here (time-ordered, so the primary key index stays append-mostly) rather
than a sequence, because ``nextval`` pins an RDS Proxy connection. The database sets the row's
time, chain and hash (migration 0005's trigger); the writer's clock is not evidence.

A conversation belongs to one customer: the trigger refuses (SQLSTATE ``IA403``) a row naming
another customer than the conversation's. The writer then records the refusal outside that
conversation (no conversation id, so in the day's unattributed chain, under the customer that
asked) and raises ``ConversationNotYours``, already audited.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb
from uuid6 import uuid7

from insurance_agent.database import Database
from insurance_agent.errors import ConversationNotYours
from insurance_agent.ports import AuditEntry
from insurance_agent.redaction import redact

# Raised by agent_interactions_link() (migration 0005) for a row of another customer.
CONVERSATION_NOT_YOURS = "IA403"

INSERT_SQL = """
INSERT INTO agent_interactions (
    id, conversation_id, customer_id, intent, outcome, error_code,
    payload, result, request_id, function_name, channel, principal,
    idempotency_key, duration_ms, intent_id
) VALUES (
    %(id)s, %(conversation_id)s, %(customer_id)s, %(intent)s, %(outcome)s,
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


def row_values(entry: AuditEntry, *, row_id: UUID) -> dict[str, Any]:
    return {
        "id": row_id,
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


def new_row_id() -> UUID:
    return UUID(bytes=uuid7().bytes)


def refusal_entry(entry: AuditEntry, refusal: ConversationNotYours) -> AuditEntry:
    """The row of a request refused for writing into another customer's conversation: kept out
    of that conversation, naming it in the answer's details."""
    return replace(
        entry,
        conversation_id=None,
        outcome=refusal.outcome,
        error_code=refusal.code,
        result=redact(refusal.body(entry.request_id)),
        duration_ms=None,
    )


class PostgresAuditStore:
    """Implements ``ports.AuditStore``; raises ``AuditUnavailable`` when it cannot write, and
    ``ConversationNotYours`` (with its own row written) for another customer's conversation."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def record(self, entry: AuditEntry) -> UUID:
        row_id = new_row_id()
        with self._database.connection() as conn:
            try:
                conn.execute(INSERT_SQL, row_values(entry, row_id=row_id))
            except psycopg.Error as exc:
                if exc.sqlstate != CONVERSATION_NOT_YOURS:
                    raise
                refusal = ConversationNotYours(
                    "this conversation belongs to another customer; start a new conversation",
                    details={"conversation_id": entry.conversation_id},
                )
                conn.execute(
                    INSERT_SQL, row_values(refusal_entry(entry, refusal), row_id=new_row_id())
                )
                refusal.audited = True
                raise refusal from None
        return row_id
