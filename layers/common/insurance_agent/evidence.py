"""The audit rows a triage decision cites, checked in the audit database itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast
from uuid import UUID

from insurance_agent.database import Database
from insurance_agent.errors import RequestInProgress
from insurance_agent.idempotency import RETRY_AFTER_S

# One round trip whatever the number of ids; a row counts only with the same customer.
SELECT_OWNED = """
SELECT id FROM agent_interactions WHERE id = ANY(%(ids)s) AND customer_id = %(customer_id)s
"""


# The first filing under a key and its answer: the ok row naming its intent (a replay's row
# names none). An intent with no row naming it yet is a filing whose answer is still being
# written; it sorts after any filing that has its answer.
SELECT_FIRST_ANSWER = """
SELECT answer.id, unanswered.open
FROM agent_interactions filing
LEFT JOIN agent_interactions answer
  ON answer.intent_id = filing.id AND answer.outcome = 'ok'
CROSS JOIN LATERAL (
  SELECT answer.id IS NULL AND NOT EXISTS (
    SELECT 1 FROM agent_interactions settled WHERE settled.intent_id = filing.id
  ) AS open
) unanswered
WHERE filing.customer_id = %(customer_id)s AND filing.intent = %(intent)s
  AND filing.outcome = 'pending' AND filing.idempotency_key = %(key)s
  AND (answer.id IS NOT NULL OR unanswered.open)
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
        answer, still_open = row
        if still_open:
            # The idempotency record completes before the first filing's ok row is written;
            # a replay in between would otherwise name a row of its own.
            raise RequestInProgress(
                "a request with this Idempotency-Key is still being recorded; retry shortly",
                details={"retry_after_s": RETRY_AFTER_S},
            )
        return cast(UUID, answer)
