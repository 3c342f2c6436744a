"""The three use cases. Each one is audited: a request is never answered without its row.

``run_audited`` is the single place that times an interaction, turns its outcome into an
``agent_interactions`` row and decides what the caller sees when the audit itself fails.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from insurance_agent.context import CallContext
from insurance_agent.domain.coverage import check_claim_admissible
from insurance_agent.domain.summary import summarize
from insurance_agent.errors import (
    AuditUnavailable,
    InsuranceAgentError,
    PolicyNotFound,
    policy_not_found,
)
from insurance_agent.models import (
    Claim,
    ClaimRequest,
    ClaimSummary,
    ClaimSummaryRequest,
    Intent,
    Policy,
    PolicyLookupRequest,
    utc_now,
)
from insurance_agent.observability import count_server_error
from insurance_agent.ports import AuditEntry, AuditStore, Idempotency, InsuranceApi
from insurance_agent.redaction import redact


@dataclass(frozen=True)
class Services:
    upstream: InsuranceApi
    audit: AuditStore
    idempotency: Idempotency
    clock: Callable[[], datetime] = utc_now


@dataclass
class Trail:
    """What an operation tells the audit while it runs: the id of a pending intent row, and
    notes that go into its ``ok`` row's result (``idempotent_replay``)."""

    intent_id: UUID | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def access_denied(policy_number: str) -> PolicyNotFound:
    """Another customer's policy: answered exactly like an unknown one -- the same class, so a
    direct caller's ``errorType`` says nothing more -- and audited as denied."""
    return policy_not_found(policy_number, outcome="denied")


def entry_for(
    ctx: CallContext,
    intent: Intent,
    payload: dict[str, Any],
    *,
    outcome: Any,
    result: dict[str, Any] | None,
    error_code: str | None = None,
    duration_ms: float | None = None,
    intent_id: UUID | None = None,
) -> AuditEntry:
    if ctx.gateway:
        payload = payload | {"gateway": dict(ctx.gateway)}
    return AuditEntry(
        intent=intent,
        outcome=outcome,
        payload=redact(payload),
        result=redact(result) if result is not None else None,
        request_id=ctx.request_id,
        function_name=ctx.function_name,
        channel=ctx.channel,
        conversation_id=ctx.conversation_id,
        customer_id=ctx.customer_id,
        principal=ctx.principal.name if ctx.principal else None,
        error_code=error_code,
        idempotency_key=ctx.idempotency_key,
        duration_ms=duration_ms,
        intent_id=intent_id,
    )


def record_refusal(
    audit: AuditStore,
    ctx: CallContext,
    intent: Intent,
    payload: dict[str, Any],
    error: InsuranceAgentError,
) -> None:
    """Audit a request refused before its operation ran (bad input at the edge)."""
    audit.record(
        entry_for(
            ctx,
            intent,
            payload,
            outcome=error.outcome,
            result=error.body(ctx.request_id),
            error_code=error.code,
        )
    )


def run_audited[R: BaseModel](
    services: Services,
    ctx: CallContext,
    intent: Intent,
    payload: dict[str, Any],
    action: Callable[[Trail], R],
) -> R:
    trail = Trail()
    started = time.perf_counter()

    def elapsed_ms() -> float:
        return (time.perf_counter() - started) * 1000

    cause: BaseException | None = None
    try:
        result = action(trail)
    except InsuranceAgentError as exc:
        error = exc
    except Exception as exc:  # noqa: BLE001  -- a bug: audited, answered as a bare 500
        error, cause = InsuranceAgentError("internal error"), exc
    else:
        services.audit.record(
            entry_for(
                ctx,
                intent,
                payload,
                outcome="ok",
                result=result.model_dump(mode="json") | trail.notes,
                duration_ms=elapsed_ms(),
                intent_id=trail.intent_id,
            )
        )
        return result

    already_audited, error.audited = error.audited, True
    count_server_error(error.status, ctx.function_name)
    if already_audited:
        raise error from cause  # the audit wrote its own row (ConversationNotYours)
    if isinstance(error, AuditUnavailable) and trail.intent_id is None:
        raise error from cause  # the database is what failed: nowhere to write the refusal
    try:
        services.audit.record(
            entry_for(
                ctx,
                intent,
                payload,
                outcome=error.outcome,
                result=error.body(ctx.request_id),
                error_code=error.code,
                duration_ms=elapsed_ms(),
                intent_id=trail.intent_id,
            )
        )
    except AuditUnavailable as audit_error:
        audit_error.audited = True
        if error.status < 500:  # the answer becomes a 503 after all
            count_server_error(audit_error.status, ctx.function_name)
        raise audit_error from error
    raise error from cause


def _may_act(ctx: CallContext, policy_number: str) -> None:
    """A customer principal asking for another customer: answered as an unknown policy,
    before upstream hears of it."""
    if ctx.principal is not None and not ctx.principal.may_act_for(ctx.customer_id):
        raise access_denied(policy_number)


def _owned(policy: Policy, ctx: CallContext) -> Policy:
    if ctx.customer_id is not None and policy.customer_id != ctx.customer_id:
        raise access_denied(policy.policy_number)
    return policy


# -- the use cases ---------------------------------------------------------------------------


def lookup_policy(services: Services, ctx: CallContext, request: PolicyLookupRequest) -> Policy:
    def action(_: Trail) -> Policy:
        _may_act(ctx, request.policy_number)
        return _owned(services.upstream.get_policy(request.policy_number), ctx)

    return run_audited(services, ctx, "policy_lookup", request.model_dump(mode="json"), action)


def upstream_idempotency_key(customer_id: str, key: str) -> str:
    """The key upstream deduplicates on, scoped to the customer like our records: upstream
    sees one API client (us) for every customer, so two customers' keys must not meet there."""
    return "ik-" + hashlib.sha256(f"{customer_id}\n{key}".encode()).hexdigest()


def create_claim(services: Services, ctx: CallContext, request: ClaimRequest) -> Claim:
    payload = request.model_dump(mode="json")

    def file(trail: Trail, idempotency_key: str) -> Claim:
        policy = _owned(services.upstream.get_policy(request.policy_number), ctx)
        check_claim_admissible(policy, request, today=services.clock().date())
        # The intent is on record before anything is filed: if this write fails, the
        # request answers 503 and upstream never hears of the claim.
        trail.intent_id = services.audit.record(
            entry_for(ctx, "claim_create", payload, outcome="pending", result=None)
        )
        return services.upstream.file_claim(
            request,
            customer_id=policy.customer_id,
            idempotency_key=upstream_idempotency_key(policy.customer_id, idempotency_key),
        )

    def action(trail: Trail) -> Claim:
        key = ctx.idempotency_key
        if not key:
            raise AssertionError("claim creation needs an idempotency key")  # edges enforce it
        _may_act(ctx, request.policy_number)
        # Once per key: a retry gets the first answer (its own ok row, marked as a replay and
        # naming no intent); the filing's intent and result rows are written once.
        claim, replayed = services.idempotency.once(
            ctx, "claim_create", payload, Claim, lambda: file(trail, key)
        )
        if replayed:
            trail.notes["idempotent_replay"] = True
        return claim

    return run_audited(services, ctx, "claim_create", payload, action)


def summarize_claims(
    services: Services, ctx: CallContext, request: ClaimSummaryRequest
) -> ClaimSummary:
    def action(_: Trail) -> ClaimSummary:
        _may_act(ctx, request.policy_number)
        # Both asked at once; another customer's policy is refused before its claims are used.
        policy, claims = services.upstream.policy_with_claims(request.policy_number)
        _owned(policy, ctx)
        return summarize(policy, claims, claim_id=request.claim_id, as_of=services.clock())

    return run_audited(services, ctx, "claim_summary", request.model_dump(mode="json"), action)
