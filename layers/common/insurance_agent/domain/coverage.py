"""Whether a first notice of loss may be filed against a policy."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from insurance_agent.errors import PerilNotCovered, PolicyNotInForce, ValidationFailed
from insurance_agent.models import ClaimRequest, Coverage, Policy


def in_force_on(policy: Policy, day: date) -> bool:
    """Cover runs from the effective date to the expiration date, unless it ended early.

    A lapsed or cancelled policy still covers a loss that happened before cover ended, and an
    expired one covers losses inside its term: the status alone does not decide.
    """
    if not policy.effective_date <= day <= policy.expiration_date:
        return False
    if policy.status in ("lapsed", "cancelled"):
        return policy.terminated_on is not None and day < policy.terminated_on
    return True


def coverage_for(policy: Policy, peril: str) -> Coverage | None:
    return next((c for c in policy.coverages if c.peril == peril), None)


def check_claim_admissible(policy: Policy, claim: ClaimRequest, *, today: date) -> Coverage:
    """Raise the first rule the claim breaks; return the coverage it falls under."""
    if claim.amount_claimed.amount <= Decimal("0"):
        raise ValidationFailed(
            "amount_claimed.amount must be greater than zero",
            details={"field": "amount_claimed.amount", "reason": "not_positive"},
        )
    if claim.amount_claimed.currency != policy.currency:
        raise ValidationFailed(
            f"amount_claimed.currency must be the policy currency {policy.currency}",
            details={"field": "amount_claimed.currency", "reason": "currency_mismatch"},
        )
    if claim.loss_date > today:
        raise ValidationFailed(
            "loss_date is in the future",
            details={"field": "loss_date", "reason": "in_future", "today": today.isoformat()},
        )
    if not in_force_on(policy, claim.loss_date):
        raise PolicyNotInForce(
            f"policy {policy.policy_number} was not in force on {claim.loss_date.isoformat()}",
            details={
                "policy_status": policy.status,
                "effective_date": policy.effective_date.isoformat(),
                "expiration_date": policy.expiration_date.isoformat(),
                "terminated_on": policy.terminated_on.isoformat() if policy.terminated_on else None,
            },
        )
    coverage = coverage_for(policy, claim.loss_type)
    if coverage is None:
        raise PerilNotCovered(
            f"policy {policy.policy_number} does not cover {claim.loss_type}",
            details={"covered_perils": [c.peril for c in policy.coverages]},
        )
    return coverage
