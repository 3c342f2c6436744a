"""Nothing left pending: every claim intent gets its result row, even when its function died.

A claim filing writes an intent row (``pending``) before it calls upstream and a result row
after. If the database fails between the two, or the function times out, the intent would stay
pending for ever. The reconciler finds intents older than ``min_age`` (longer than the
function's timeout, so the filing is surely over) that have no result row, asks upstream by
the idempotency key that filing sent, and appends the result it learns: ``ok`` with the claim
upstream holds, or ``error`` (``NOT_FILED``) when upstream has none. Upstream deduplicates on
that key, so a client's retry of the same request never files a second claim either.

Reconcilers may run concurrently: each intent is settled under a transaction-level advisory
lock and re-checked under it, so it gets exactly one result row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol
from uuid import UUID

from insurance_agent.audit import PostgresAuditStore, new_row_id
from insurance_agent.database import Database
from insurance_agent.models import Claim, utc_now
from insurance_agent.operations import upstream_idempotency_key
from insurance_agent.ports import AuditEntry
from insurance_agent.redaction import redact

FUNCTION_NAME = "reconciler"
NOT_FILED = "NOT_FILED"
# pg_advisory_xact_lock(key1, key2): 'AUDI' as elsewhere, then 'RECO'.
RECONCILE_LOCK = 1096107081
DEFAULT_MIN_AGE = timedelta(minutes=2)

PENDING_SQL = """
SELECT i.id, i.conversation_id, i.customer_id, i.idempotency_key, i.payload, i.request_id,
       i.channel, i.created_at
FROM agent_interactions i
WHERE i.outcome = 'pending' AND i.intent = 'claim_create' AND i.created_at < %(before)s
  AND (%(conversation)s::text IS NULL OR i.conversation_id = %(conversation)s)
  AND NOT EXISTS (SELECT FROM agent_interactions r WHERE r.intent_id = i.id)
ORDER BY i.created_at, i.id
LIMIT %(limit)s
"""
STILL_OPEN_SQL = "SELECT NOT EXISTS (SELECT FROM agent_interactions WHERE intent_id = %s)"


class ClaimLookup(Protocol):
    """What the reconciler asks upstream (``upstream.InsuranceApiClient.find_claim``)."""

    def find_claim(self, *, idempotency_key: str) -> Claim | None: ...


@dataclass(frozen=True)
class Settled:
    intent_id: UUID
    outcome: Literal["ok", "error"]
    claim_id: str | None


@dataclass
class Report:
    settled: list[Settled] = field(default_factory=list)
    skipped: list[tuple[UUID, str]] = field(default_factory=list)  # (intent, why)

    def as_dict(self) -> dict[str, Any]:
        return {
            "settled": [
                {"intent_id": str(s.intent_id), "outcome": s.outcome, "claim_id": s.claim_id}
                for s in self.settled
            ],
            "skipped": [{"intent_id": str(i), "reason": why} for i, why in self.skipped],
        }


def reconcile(
    database: Database,
    upstream: ClaimLookup,
    *,
    min_age: timedelta = DEFAULT_MIN_AGE,
    now: datetime | None = None,
    conversation_id: str | None = None,
    limit: int = 500,
) -> Report:
    report = Report()
    before = (now or utc_now()) - min_age
    with database.connection() as conn:
        intents = conn.execute(
            PENDING_SQL,
            {"before": before, "conversation": conversation_id, "limit": limit},
        ).fetchall()
    store = _LockedStore(database)
    for intent_id, conversation, customer, key, payload, request_id, channel, _ in intents:
        if not (customer and key):
            # Every filing has both (the edges enforce them); a row without is not ours to guess.
            report.skipped.append((intent_id, "intent row has no customer or idempotency key"))
            continue
        claim = upstream.find_claim(idempotency_key=upstream_idempotency_key(customer, key))
        base = {
            "intent": "claim_create",
            "payload": payload,
            "request_id": request_id,
            "function_name": FUNCTION_NAME,
            "channel": channel,
            "conversation_id": conversation,
            "customer_id": customer,
            "principal": FUNCTION_NAME,
            "idempotency_key": key,
            "intent_id": intent_id,
        }
        outcome: Literal["ok", "error"] = "ok" if claim is not None else "error"
        if claim is not None:
            entry = AuditEntry(
                outcome="ok",
                result=redact(claim.model_dump(mode="json") | {"reconciled": True}),
                **base,
            )
        else:
            entry = AuditEntry(
                outcome="error",
                error_code=NOT_FILED,
                result={
                    "error": {
                        "code": NOT_FILED,
                        "message": "upstream holds no claim for this filing's idempotency key",
                        "request_id": request_id,
                        "details": {"reconciled": True},
                    }
                },
                **base,
            )
        if store.settle(intent_id, entry):
            report.settled.append(Settled(intent_id, outcome, claim.claim_id if claim else None))
        else:
            report.skipped.append((intent_id, "settled meanwhile by another reconciler"))
    return report


class _LockedStore:
    """Writes a result row only while holding the intent's lock and only if it has none: the
    row goes through the audit writer's own insert (personal fields sealed), inside the
    transaction that holds the lock."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def settle(self, intent_id: UUID, entry: AuditEntry) -> bool:
        with self._database.connection() as conn, conn.transaction():
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (RECONCILE_LOCK, str(intent_id))
            )
            row = conn.execute(STILL_OPEN_SQL, (intent_id,)).fetchone()
            if not (row and row[0]):
                return False
            PostgresAuditStore(self._database).insert_on(conn, entry, new_row_id())
        return True
