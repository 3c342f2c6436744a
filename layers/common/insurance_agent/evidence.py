"""The audit rows a triage decision cites, checked in the audit database itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast
from uuid import UUID

from insurance_agent.database import Database
from insurance_agent.idempotency import in_progress

# One round trip whatever the number of ids; a row counts only with the same customer.
SELECT_OWNED = """
SELECT id FROM agent_interactions WHERE id = ANY(%(ids)s) AND customer_id = %(customer_id)s
"""


# The first filing under a key (its pending intent) and the ok row naming it (a replay's row
# names none). A filing with no row naming it at all is one whose answer is still being written:
# it comes back with no answer, and only when no filing has its answer.
SELECT_FIRST_ANSWER = """
SELECT answer.id
FROM agent_interactions filing
LEFT JOIN agent_interactions answer
  ON answer.intent_id = filing.id AND answer.outcome = 'ok'
WHERE filing.customer_id = %(customer_id)s AND filing.intent = %(intent)s
  AND filing.outcome = 'pending' AND filing.idempotency_key = %(key)s
  AND (answer.id IS NOT NULL OR NOT EXISTS (
    SELECT FROM agent_interactions settled WHERE settled.intent_id = filing.id
  ))
ORDER BY answer.id IS NULL, filing.created_at, filing.id
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
        if row is None:
            return None
        if row[0] is None:
            # A completed record whose filing has no answer row yet (a record completed apart
            # from its row: before the two were one statement, or by ``once`` without
            # ``completed_by``): a replay would otherwise name a row of its own.
            raise in_progress("still being recorded")
        return cast(UUID, row[0])
