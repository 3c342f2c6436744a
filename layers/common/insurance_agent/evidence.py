"""The audit rows a triage decision cites, checked in the audit database itself."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from insurance_agent.database import Database

# One round trip whatever the number of ids; a row counts only with the same customer.
SELECT_OWNED = """
SELECT id FROM agent_interactions WHERE id = ANY(%(ids)s) AND customer_id = %(customer_id)s
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
