"""The audit writer: ``agent_interactions`` rows in PostgreSQL, append-only.

Ids are UUIDv7 made here (time-ordered, so the primary key index stays append-mostly) rather
than a sequence, because ``nextval`` pins an RDS Proxy connection. The database sets the row's
time, chain and hash (migration 0005's trigger); the writer's clock is not evidence.

Personal fields (``personal_data.PERSONAL_FIELDS``) are sealed under the row's customer's data
key before they are written, so erasing the customer's key erases them (migration 0006).

A conversation belongs to one customer: the trigger refuses (SQLSTATE ``IA403``) a row naming
another customer than the conversation's. The writer then records the request outside that
conversation (no conversation id, so in the day's unattributed chain, under the customer that
asked, the conversation it named in the payload) and raises ``ConversationNotYours``, already
audited; a row that records a refusal anyway (an error or a denial) is filed the same way and
the caller gets its own error.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb
from uuid6 import uuid7

from insurance_agent.database import Database
from insurance_agent.errors import AuditUnavailable, ConversationNotYours
from insurance_agent.personal_data import KEY_IS_LIVE, has_personal_fields, seal_personal
from insurance_agent.ports import AuditEntry, Completion
from insurance_agent.redaction import redact

# Raised by agent_interactions_link() (migration 0005) for a row of another customer.
CONVERSATION_NOT_YOURS = "IA403"

# One statement per row. It inserts nothing when the row's personal fields were sealed under a
# key erased meanwhile (personal_data.KEY_IS_LIVE): the writer then seals again under the
# customer's new key. The casts type the SELECT list the way VALUES would from the columns.
INSERT_SQL = f"""
INSERT INTO agent_interactions (
    id, conversation_id, customer_id, intent, outcome, error_code,
    payload, result, request_id, function_name, channel, principal,
    idempotency_key, duration_ms, intent_id
)
SELECT
    %(id)s::uuid, %(conversation_id)s::text, %(customer_id)s::text, %(intent)s::text,
    %(outcome)s::text, %(error_code)s::text, %(payload)s::jsonb, %(result)s::jsonb,
    %(request_id)s::text, %(function_name)s::text, %(channel)s::text, %(principal)s::text,
    %(idempotency_key)s::text, %(duration_ms)s::numeric, %(intent_id)s::uuid
WHERE %(key_id)s::uuid IS NULL OR {KEY_IS_LIVE}
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


def storable_json(value: Any) -> str:
    """``value`` as JSON text, made ``storable``. The JSON encoder writes a NUL in a key or a
    string as the escape ``\\u0000`` (and nothing else contains that text, bar a literal
    backslash before ``u0000``, which only makes this take the slow path): a row without one,
    nearly every row, is encoded once instead of being copied first."""
    text = json.dumps(value)
    return json.dumps(storable(value)) if "\\u0000" in text else text


def row_values(entry: AuditEntry, *, row_id: UUID, key_id: UUID | None = None) -> dict[str, Any]:
    return {
        "id": row_id,
        "key_id": key_id,
        "conversation_id": entry.conversation_id,
        "customer_id": entry.customer_id,
        "intent": entry.intent,
        "outcome": entry.outcome,
        "error_code": entry.error_code,
        "payload": Jsonb(entry.payload, dumps=storable_json),
        "result": Jsonb(entry.result, dumps=storable_json) if entry.result is not None else None,
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


def outside_conversation(entry: AuditEntry) -> AuditEntry:
    """``entry`` kept out of the conversation it named (which is another customer's): no
    conversation id, so in the day's unattributed chain; the id it tried stays in the payload."""
    return replace(
        entry,
        conversation_id=None,
        payload=entry.payload | {"conversation_id": entry.conversation_id},
    )


def refusal_entry(entry: AuditEntry, refusal: ConversationNotYours) -> AuditEntry:
    """The row of a request refused for writing into another customer's conversation."""
    return replace(
        outside_conversation(entry),
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

    def record(self, entry: AuditEntry, *, completing: Completion | None = None) -> UUID:
        row_id = new_row_id()
        with self._database.connection() as conn:
            try:
                self.insert_on(conn, entry, row_id, completing=completing)
            except psycopg.Error as exc:
                # The statement failed whole, ``completing`` included: what follows writes
                # refusals, which complete nothing.
                if exc.sqlstate != CONVERSATION_NOT_YOURS:
                    raise
                if entry.outcome in ("error", "denied"):
                    # Refused anyway (bad input, unknown policy...): recorded, just not in a
                    # trail that is not the caller's, and the caller gets its own error.
                    self.insert_on(conn, outside_conversation(entry), row_id)
                    return row_id
                refusal = ConversationNotYours(
                    "this conversation belongs to another customer; start a new conversation",
                    details={"conversation_id": entry.conversation_id},
                )
                self.insert_on(conn, refusal_entry(entry, refusal), new_row_id())
                refusal.audited = True
                raise refusal from None
        return row_id

    def insert_on(
        self,
        conn: psycopg.Connection[Any],
        entry: AuditEntry,
        row_id: UUID,
        *,
        completing: Completion | None = None,
    ) -> None:
        """Write ``entry`` on ``conn`` (inside a caller's transaction when it holds one), its
        personal fields sealed under the customer's live key; ``completing`` in the same
        statement."""
        sql, extra = INSERT_SQL, dict[str, Any]()
        if completing is not None:
            with_clause, extra = completing.statement(conn)
            sql = with_clause + INSERT_SQL
        if not (has_personal_fields(entry.payload) or has_personal_fields(entry.result)):
            conn.execute(sql, row_values(entry, row_id=row_id) | extra)
            return
        customer = entry.customer_id
        if customer is None:  # nobody to key it to, so nobody could erase it: not kept
            unkeyed = replace(
                entry,
                payload=seal_personal(entry.payload, None),
                result=seal_personal(entry.result, None),
            )
            conn.execute(sql, row_values(unkeyed, row_id=row_id) | extra)
            return
        keys = self._database.customer_keys
        for _ in range(2):
            key = keys.live_key(conn, customer)
            sealed = replace(
                entry,
                payload=seal_personal(entry.payload, key),
                result=seal_personal(entry.result, key),
            )
            # A row not inserted (its key erased meanwhile) still ran ``completing``: the next
            # try runs it again, to the same effect.
            if conn.execute(
                sql, row_values(sealed, row_id=row_id, key_id=key.key_id) | extra
            ).rowcount:
                return
            keys.forget(customer)  # erased since it was cached
        raise AuditUnavailable("audit database unavailable", details={"reason": "KeyErased"})
