"""The three use cases. Each one is audited: a request is never answered without its row.

``run_audited`` is the single place that times an interaction, turns its outcome into an
``agent_interactions`` row and decides what the caller sees when the audit itself fails.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from insurance_agent.context import CallContext
from insurance_agent.domain.coverage import assess_coverage, check_claim_admissible
from insurance_agent.domain.policyholder import policyholder
from insurance_agent.domain.summary import summarize
from insurance_agent.errors import (
    AuditUnavailable,
    ClaimNotFound,
    Forbidden,
    InsuranceAgentError,
    PolicyNotFound,
    UpstreamBadResponse,
    ValidationFailed,
    policy_not_found,
)
from insurance_agent.models import (
    AuditedAnswer,
    Claim,
    ClaimRequest,
    ClaimSummary,
    ClaimSummaryRequest,
    CoverageAnswer,
    CoverageCheckRequest,
    Customer,
    Intent,
    Policy,
    PolicyLookupRequest,
    TriageDecision,
    TriageDecisionRequest,
    utc_now,
)
from insurance_agent.observability import count_server_error
from insurance_agent.ports import (
    AuditEntry,
    AuditStore,
    Completion,
    Evidence,
    Idempotency,
    InsuranceApi,
)
from insurance_agent.redaction import redact


@dataclass(frozen=True)
class Services:
    upstream: InsuranceApi
    audit: AuditStore
    idempotency: Idempotency
    # What triage decisions may cite; None where no operation records one (unit tests).
    evidence: Evidence | None = None
    clock: Callable[[], datetime] = utc_now


@dataclass
class Trail:
    """What an operation tells the audit while it runs: the id of a pending intent row, and
    notes that go into its ``ok`` row's result (``idempotent_replay``)."""

    intent_id: UUID | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    # The audit row an answer names when it is not this call's own: a replay answers with the
    # first filing's row, so a retry's answer is the first answer, byte for byte.
    answer_row: UUID | None = None
    # Written with the ok row, in its statement: the idempotency record's completion.
    completion: Completion | None = None

    def complete_with_answer(self, completion: Completion) -> None:
        self.completion = completion


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
        row_id = services.audit.record(
            entry_for(
                ctx,
                intent,
                payload,
                outcome="ok",
                result=result.model_dump(mode="json", exclude={"audit_id"}) | trail.notes,
                duration_ms=elapsed_ms(),
                intent_id=trail.intent_id,
            ),
            completing=trail.completion,
        )
        if isinstance(result, AuditedAnswer):
            # The answer names its own row, so the caller can cite it (a triage decision's
            # relied_on); the row does not repeat its id.
            return result.model_copy(update={"audit_id": trail.answer_row or row_id})
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
            ctx,
            "claim_create",
            payload,
            Claim,
            lambda: file(trail, key),
            completed_by=trail.complete_with_answer,
        )
        if replayed:
            trail.notes["idempotent_replay"] = True
            if services.evidence is not None and ctx.customer_id is not None:
                trail.answer_row = services.evidence.first_answer(
                    ctx.customer_id, "claim_create", key
                )
        return claim

    return run_audited(services, ctx, "claim_create", payload, action)


# Upstream reads made at once for one answer (a policyholder's policies and their claims):
# the upstream client keeps at most four connections.
UPSTREAM_FANOUT = 4


def summarize_claims(
    services: Services, ctx: CallContext, request: ClaimSummaryRequest
) -> ClaimSummary:
    def action(_: Trail) -> ClaimSummary:
        _may_act(ctx, request.policy_number)
        if not request.include_policyholder:
            # Both asked at once; another customer's policy is refused before its claims are used.
            policy, claims = services.upstream.policy_with_claims(request.policy_number)
            _owned(policy, ctx)
            return summarize(policy, claims, claim_id=request.claim_id, as_of=services.clock())
        return _summary_with_policyholder(services, ctx, request)

    return run_audited(services, ctx, "claim_summary", request.model_dump(mode="json"), action)


def _summary_with_policyholder(
    services: Services, ctx: CallContext, request: ClaimSummaryRequest
) -> ClaimSummary:
    """The summary and who holds the policy, read concurrently: the policy, its claims and
    the customer's profile at once, then every other policy of the customer and its claims.
    The profile is read for the customer the call acts for, and shown only once the policy is
    known to be theirs: authorized exactly like the policy."""
    from concurrent.futures import ThreadPoolExecutor  # only the calls that fan out pay for it

    upstream = services.upstream
    with ThreadPoolExecutor(max_workers=UPSTREAM_FANOUT) as pool:
        policy_read = pool.submit(upstream.get_policy, request.policy_number)
        claims_read = pool.submit(upstream.list_claims, request.policy_number)
        customer_read = (
            pool.submit(upstream.get_customer, ctx.customer_id) if ctx.customer_id else None
        )
        policy = _owned(policy_read.result(), ctx)
        claims = claims_read.result()
        customer = (
            customer_read.result()
            if customer_read is not None
            else upstream.get_customer(policy.customer_id)
        )
        if customer.customer_id != policy.customer_id:
            raise UpstreamBadResponse("upstream's customer record does not match the policy")
        others = [n for n in dict.fromkeys(customer.policies) if n != policy.policy_number]
        other_policies = pool.map(lambda n: _listed_policy(upstream, customer, n), others)
        other_claims = pool.map(lambda n: _listed_claims(upstream, customer, n), others)
        other_policies_read, other_claims_read = list(other_policies), list(other_claims)
    summary = summarize(policy, claims, claim_id=request.claim_id, as_of=services.clock())
    every_claim = [*claims, *(c for listed in other_claims_read for c in listed)]
    holder = policyholder(customer, policy, other_policies_read, every_claim)
    return summary.model_copy(update={"policyholder": holder})


def _listed_policy(upstream: InsuranceApi, customer: Customer, policy_number: str) -> Policy:
    try:
        policy = upstream.get_policy(policy_number)
    except PolicyNotFound:
        raise _inconsistent(customer, policy_number) from None
    if policy.customer_id != customer.customer_id:
        raise _inconsistent(customer, policy_number)
    return policy


def _listed_claims(
    upstream: InsuranceApi, customer: Customer, policy_number: str
) -> Sequence[Claim]:
    try:
        return upstream.list_claims(policy_number)
    except PolicyNotFound:
        raise _inconsistent(customer, policy_number) from None


def _inconsistent(customer: Customer, policy_number: str) -> UpstreamBadResponse:
    # Not a 404 for the policy asked about: upstream contradicts itself about another one.
    return UpstreamBadResponse(
        "upstream lists a policy for the customer that it does not serve as theirs",
        details={"listed_policy": policy_number},
    )


def check_coverage(
    services: Services, ctx: CallContext, request: CoverageCheckRequest
) -> CoverageAnswer:
    """ "Am I covered?": the rules a filing is checked against, applied without filing."""

    def action(_: Trail) -> CoverageAnswer:
        from concurrent.futures import ThreadPoolExecutor

        _may_act(ctx, request.policy_number)
        with ThreadPoolExecutor(max_workers=2) as pool:
            policy_read = pool.submit(services.upstream.get_policy, request.policy_number)
            claims_read = pool.submit(services.upstream.list_claims, request.policy_number)
            policy = _owned(policy_read.result(), ctx)
            claims = claims_read.result()
        return assess_coverage(policy, claims, request, as_of=services.clock())

    return run_audited(services, ctx, "coverage_check", request.model_dump(mode="json"), action)


def record_triage_decision(
    services: Services, ctx: CallContext, request: TriageDecisionRequest
) -> TriageDecision:
    """Record the decision an agent or workflow took on a claim. The decision is the audit
    row itself (intent triage_decision): append-only, in the same hash chain as the rows it
    cites, which must be audit rows of the same customer."""

    def action(_: Trail) -> TriageDecision:
        if ctx.principal is not None and ctx.principal.kind == "customer":
            # A claimant never triages their own claim (a customer fast-tracking itself).
            raise Forbidden(
                "a triage decision is recorded by an agent or a workflow", code="AGENT_ONLY"
            )
        _may_act(ctx, request.policy_number)
        policy = _owned(services.upstream.get_policy(request.policy_number), ctx)
        claims = services.upstream.list_claims(request.policy_number)
        if not any(c.claim_id == request.claim_id for c in claims):
            raise ClaimNotFound(
                f"claim {request.claim_id} not found on policy {request.policy_number}"
            )
        if services.evidence is None:
            raise AssertionError("recording a decision needs the evidence store")
        foreign = services.evidence.not_of_customer(request.relied_on, policy.customer_id)
        if foreign:
            raise ValidationFailed(
                "relied_on names audit rows that are not this customer's: "
                + ", ".join(str(i) for i in foreign),
                details={
                    "field": "relied_on",
                    "reason": "not_this_customers_rows",
                    "rows": [str(i) for i in foreign],
                },
            )
        return TriageDecision(
            claim_id=request.claim_id,
            policy_number=policy.policy_number,
            customer_id=policy.customer_id,
            decision=request.decision,
            reasons=list(request.reasons),
            confidence=request.confidence,
            decided_by=request.decided_by,
            relied_on=list(dict.fromkeys(request.relied_on)),
            recorded_at=services.clock(),
        )

    return run_audited(services, ctx, "triage_decision", request.model_dump(mode="json"), action)
