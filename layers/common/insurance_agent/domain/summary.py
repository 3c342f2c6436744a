"""The coverage position of a policy, and what a given claim may pay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from insurance_agent.errors import ClaimNotFound
from insurance_agent.models import (
    Claim,
    ClaimAssessment,
    ClaimSummary,
    Coverage,
    OpenClaim,
    Policy,
)

ZERO = Decimal("0.00")


def committed(claims: Sequence[Claim]) -> Decimal:
    """What claims have used of a limit: every payment, and the reserves of open claims."""
    paid = sum((c.paid_amount for c in claims), ZERO)
    reserved = sum((c.reserve_amount for c in claims if c.is_open), ZERO)
    return paid + reserved


def remaining_for_peril(policy: Policy, claims: Sequence[Claim], coverage: Coverage) -> Decimal:
    """What a loss under ``coverage`` may still be paid: the peril's own limit (a sub-limit,
    e.g. water damage inside a home policy's aggregate) less its claims, and never more than
    the aggregate limit has left."""
    aggregate = policy.totals.aggregate_limit - committed(claims)
    peril = coverage.limit - committed([c for c in claims if c.loss_type == coverage.peril])
    return max(ZERO, min(aggregate, peril)).quantize(ZERO)


def estimated_payable(claimed: Decimal, deductible: Decimal, remaining_limit: Decimal) -> Decimal:
    """Claimed minus deductible, never below zero, never above what the limit has left."""
    return max(ZERO, min(claimed - deductible, remaining_limit)).quantize(ZERO)


def summarize(
    policy: Policy, claims: Sequence[Claim], *, claim_id: str | None, as_of: datetime
) -> ClaimSummary:
    paid = sum((c.paid_amount for c in claims), ZERO)
    reserved = sum((c.reserve_amount for c in claims if c.is_open), ZERO)
    limit = policy.totals.aggregate_limit
    deductible = policy.totals.deductible
    remaining = max(ZERO, limit - paid - reserved)
    open_claims = [
        OpenClaim(
            claim_id=c.claim_id,
            status=c.status,
            loss_date=c.loss_date,
            loss_type=c.loss_type,
            amount_claimed=c.amount_claimed,
            reserve_amount=c.reserve_amount,
        )
        for c in claims
        if c.is_open
    ]
    assessment = None
    if claim_id is not None:
        claim = next((c for c in claims if c.claim_id == claim_id), None)
        if claim is None:
            raise ClaimNotFound(f"claim {claim_id} not found on policy {policy.policy_number}")
        # The claim's own peril sets its deductible and the limit it may use (a windstorm
        # deductible, a water-damage sub-limit), as a coverage question answers it; a claim
        # upstream holds under a peril the policy no longer lists falls back to the totals.
        coverage = next((c for c in policy.coverages if c.peril == claim.loss_type), None)
        claim_deductible = coverage.deductible if coverage is not None else deductible
        claim_remaining = (
            remaining_for_peril(policy, claims, coverage) if coverage is not None else remaining
        )
        assessment = ClaimAssessment(
            claim_id=claim.claim_id,
            status=claim.status,
            amount_claimed=claim.amount_claimed,
            deductible=claim_deductible,
            estimated_payable=estimated_payable(
                claim.amount_claimed.amount, claim_deductible, claim_remaining
            ),
        )
    return ClaimSummary(
        policy_number=policy.policy_number,
        customer_id=policy.customer_id,
        policy_status=policy.status,
        currency=policy.currency,
        coverage_limit=limit,
        deductible=deductible,
        paid_to_date=paid.quantize(ZERO),
        reserved_to_date=reserved.quantize(ZERO),
        remaining_limit=remaining.quantize(ZERO),
        open_claims=open_claims,
        claim=assessment,
        summary=_plain_language(policy, paid, reserved, remaining, len(open_claims), assessment),
        as_of=as_of,
    )


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _plain_language(
    policy: Policy,
    paid: Decimal,
    reserved: Decimal,
    remaining: Decimal,
    open_count: int,
    assessment: ClaimAssessment | None,
) -> str:
    cur = policy.currency
    parts = [
        f"Policy {policy.policy_number} ({policy.product_line}) is {policy.status}, "
        f"covering {policy.effective_date.isoformat()} to {policy.expiration_date.isoformat()} "
        f"with an aggregate limit of {_money(policy.totals.aggregate_limit, cur)} and a "
        f"deductible of {_money(policy.totals.deductible, cur)}.",
        f"{_money(paid, cur)} has been paid and {_money(reserved, cur)} is reserved, leaving "
        f"{_money(remaining, cur)} of the limit; "
        f"{open_count} claim{'s are' if open_count != 1 else ' is'} open.",
    ]
    if assessment is not None:
        parts.append(
            f"Claim {assessment.claim_id} ({assessment.status}) asks for "
            f"{_money(assessment.amount_claimed.amount, cur)}; after the deductible the "
            f"estimated payable amount is {_money(assessment.estimated_payable, cur)}, "
            "subject to the adjuster's review."
        )
    return " ".join(parts)
