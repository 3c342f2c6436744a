"""The audit rows a triage decision cites, checked in the audit database itself."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from insurance_agent.database import Database

# One round trip whatever the number of ids; a row counts only with the same customer.
SELECT_OWNED = """
SELECT id FROM agent_interactions WHERE id = ANY(%(ids)s) AND customer_id = %(customer_id)s
"""


# The row of the first answer under a key: an ok row naming its intent (a replay's names none).
SELECT_FIRST_ANSWER = """
SELECT id FROM agent_interactions
WHERE customer_id = %(customer_id)s AND intent = %(intent)s AND outcome = 'ok'
  AND idempotency_key = %(key)s AND intent_id IS NOT NULL
ORDER BY created_at, id
LIMIT 1
"""


class PostgresEvidence:
    """Implements ``ports.Evidence`` over ``agent_interactions``."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def not_of_customer(self, row_ids: Sequence[UUID], customer_id: str) -> list[UUID]:
        wanted = list(dict.fromkeys(row_ids))
        with self._database.connection() as conn:
            found = {
                row[0]
                for row in conn.execute(
                    SELECT_OWNED, {"ids": wanted, "customer_id": customer_id}
                ).fetchall()
            }
        return [row_id for row_id in wanted if row_id not in found]

    def first_answer(self, customer_id: str, intent: str, idempotency_key: str) -> UUID | None:
        with self._database.connection() as conn:
            row = conn.execute(
                SELECT_FIRST_ANSWER,
                {"customer_id": customer_id, "intent": intent, "key": idempotency_key},
            ).fetchone()
        return row[0] if row else None
