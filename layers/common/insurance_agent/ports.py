"""The two interfaces the operations depend on; adapters live in ``upstream`` and ``audit``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from pydantic import BaseModel

from insurance_agent.context import CallContext
from insurance_agent.errors import Outcome
from insurance_agent.models import Claim, ClaimRequest, Customer, Intent, Policy


class InsuranceApi(Protocol):
    """The system of record: policies, claims and customers."""

    def get_policy(self, policy_number: str) -> Policy: ...

    def list_claims(self, policy_number: str) -> list[Claim]: ...

    def policy_with_claims(self, policy_number: str) -> tuple[Policy, list[Claim]]:
        """``get_policy`` and ``list_claims`` together; an adapter may run them concurrently."""
        ...

    def file_claim(
        self, claim: ClaimRequest, *, customer_id: str, idempotency_key: str
    ) -> Claim: ...

    def get_customer(self, customer_id: str) -> Customer: ...


@dataclass(frozen=True)
class AuditEntry:
    """One row of ``agent_interactions``; payload and result are already redacted."""

    intent: Intent
    outcome: Outcome
    payload: dict[str, Any]
    result: dict[str, Any] | None
    request_id: str
    function_name: str
    channel: str
    conversation_id: str | None = None
    customer_id: str | None = None
    principal: str | None = None
    error_code: str | None = None
    idempotency_key: str | None = None
    duration_ms: float | None = None
    intent_id: UUID | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Completion(Protocol):
    """A write another port leaves to the audit store, to go in the statement of an answer's
    row: it happens if and only if the row is written, in the same round trip (an idempotency
    record's completion, ``idempotency_store.RecordCompletion``)."""

    def statement(self, conn: Any) -> tuple[str, dict[str, Any]]:
        """A ``WITH`` clause to put before the row's INSERT, and its parameters."""
        ...


class AuditStore(Protocol):
    """Append-only record of every interaction. Raises ``AuditUnavailable`` when it cannot."""

    def record(self, entry: AuditEntry, *, completing: Completion | None = None) -> UUID:
        """Write ``entry``; with ``completing``, in one statement with that write."""
        ...


class Evidence(Protocol):
    """What a recorded decision may cite: audit rows of the customer it is about."""

    def not_of_customer(self, row_ids: Sequence[UUID], customer_id: str) -> list[UUID]:
        """Of ``row_ids``, those that are not audit rows of ``customer_id`` (unknown ids and
        other customers' rows alike). Raises ``AuditUnavailable`` when it cannot read."""
        ...

    def first_answer(self, customer_id: str, intent: Intent, idempotency_key: str) -> UUID | None:
        """The audit row of the first answer given under an idempotency key (what a replay
        answers with), or None when no filing under the key is on record. Raises
        ``RequestInProgress`` while the filing's intent is on record and its answer is not."""
        ...


class Idempotency(Protocol):
    """At most once per (operation, customer, idempotency key): later calls get the first answer.

    ``once`` answers ``(answer, replayed)``; it raises ``IdempotencyConflict`` for the same key
    with another request, ``RequestInProgress`` while the first call runs, ``AuditUnavailable``
    when its records cannot be read or written. With ``completed_by``, the first call's record
    is not completed by ``once``: its completion is handed to ``completed_by``, whose caller
    writes it with the answer's audit row (``AuditStore.record(completing=)``); until then, and
    for good if that row is never written, the key stays in progress until the invocation's
    time is up.
    """

    def register_lambda_context(self, context: Any) -> None:
        """The invocation whose remaining time bounds how long a key stays in progress."""

    def once[R: BaseModel](
        self,
        ctx: CallContext,
        operation: str,
        request: dict[str, Any],
        model: type[R],
        action: Callable[[], R],
        *,
        completed_by: Callable[[Completion], None] | None = None,
    ) -> tuple[R, bool]: ...
