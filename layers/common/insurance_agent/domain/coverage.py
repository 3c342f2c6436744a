"""Whether a loss is covered: the one evaluation both a filing and a coverage question use.

``evaluate_loss`` returns every rule a loss breaks, in the order a filing checks them. Filing a
claim (``check_claim_admissible``) refuses with the first; answering "am I covered?"
(``assess_coverage``) lists them all in words an assistant can quote. Because both read the
same findings, an answer and a later filing of the same loss cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from insurance_agent.domain.summary import ZERO, estimated_payable, remaining_for_peril
from insurance_agent.errors import (
    InsuranceAgentError,
    PerilNotCovered,
    PolicyNotInForce,
    ValidationFailed,
)
from insurance_agent.models import (
    Claim,
    ClaimRequest,
    Coverage,
    CoverageAnswer,
    CoverageCheckRequest,
    CoverageReason,
    CoverageReasonCode,
    Money,
    Policy,
)


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


@dataclass(frozen=True)
class Finding:
    """One rule a loss breaks: its code, words for the customer, and how a filing refuses."""

    code: CoverageReasonCode
    message: str
    error: type[InsuranceAgentError]
    # The refusal's message and details as a filing answers them (unchanged since before
    # coverage questions existed: callers and the state machine read them).
    refusal_message: str
    details: dict[str, Any] = field(default_factory=dict)

    def refusal(self) -> InsuranceAgentError:
        return self.error(self.refusal_message, details=self.details)


@dataclass(frozen=True)
class Evaluation:
    findings: tuple[Finding, ...]
    coverage: Coverage | None

    @property
    def covered(self) -> bool:
        return not self.findings


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def evaluate_loss(
    policy: Policy, *, loss_date: date, loss_type: str, amount: Money | None, today: date
) -> Evaluation:
    """Every rule the loss breaks, in the order a filing checks them; ``amount`` None (a
    coverage question without one) skips the amount's rules."""
    findings: list[Finding] = []
    if amount is not None and amount.amount <= Decimal("0"):
        findings.append(
            Finding(
                "amount_not_positive",
                "The amount of the loss must be greater than zero.",
                ValidationFailed,
                "amount_claimed.amount must be greater than zero",
                {"field": "amount_claimed.amount", "reason": "not_positive"},
            )
        )
    if amount is not None and amount.currency != policy.currency:
        findings.append(
            Finding(
                "currency_mismatch",
                f"The amount is in {amount.currency}, but policy {policy.policy_number} pays "
                f"in {policy.currency}.",
                ValidationFailed,
                f"amount_claimed.currency must be the policy currency {policy.currency}",
                {"field": "amount_claimed.currency", "reason": "currency_mismatch"},
            )
        )
    if loss_date > today:
        findings.append(
            Finding(
                "loss_date_in_future",
                f"The loss date {loss_date.isoformat()} is in the future; a loss can only be "
                "covered once it has happened.",
                ValidationFailed,
                "loss_date is in the future",
                {"field": "loss_date", "reason": "in_future", "today": today.isoformat()},
            )
        )
    if not in_force_on(policy, loss_date):
        findings.append(
            Finding(
                "policy_not_in_force",
                _not_in_force_words(policy, loss_date),
                PolicyNotInForce,
                f"policy {policy.policy_number} was not in force on {loss_date.isoformat()}",
                {
                    "policy_status": policy.status,
                    "effective_date": policy.effective_date.isoformat(),
                    "expiration_date": policy.expiration_date.isoformat(),
                    "terminated_on": policy.terminated_on.isoformat()
                    if policy.terminated_on
                    else None,
                },
            )
        )
    coverage = coverage_for(policy, loss_type)
    if coverage is None:
        perils = [c.peril for c in policy.coverages]
        findings.append(
            Finding(
                "peril_not_covered",
                f"Policy {policy.policy_number} does not cover {loss_type.replace('_', ' ')}; "
                f"it covers {', '.join(p.replace('_', ' ') for p in perils) or 'no perils'}.",
                PerilNotCovered,
                f"policy {policy.policy_number} does not cover {loss_type}",
                {"covered_perils": perils},
            )
        )
    return Evaluation(tuple(findings), coverage)


def _not_in_force_words(policy: Policy, day: date) -> str:
    term = f"from {policy.effective_date.isoformat()} to {policy.expiration_date.isoformat()}"
    if policy.terminated_on is not None and policy.status in ("lapsed", "cancelled"):
        return (
            f"Policy {policy.policy_number} was not in force on {day.isoformat()}: it was "
            f"{policy.status} on {policy.terminated_on.isoformat()} (its term ran {term})."
        )
    return f"Policy {policy.policy_number} was not in force on {day.isoformat()}: it covers {term}."


def check_claim_admissible(policy: Policy, claim: ClaimRequest, *, today: date) -> Coverage:
    """Raise the first rule the claim breaks; return the coverage it falls under."""
    evaluation = evaluate_loss(
        policy,
        loss_date=claim.loss_date,
        loss_type=claim.loss_type,
        amount=claim.amount_claimed,
        today=today,
    )
    if evaluation.findings:
        raise evaluation.findings[0].refusal()
    assert evaluation.coverage is not None  # no finding means the peril is covered
    return evaluation.coverage


def assess_coverage(
    policy: Policy, claims: Sequence[Claim], request: CoverageCheckRequest, *, as_of: datetime
) -> CoverageAnswer:
    """The answer to "would this loss be covered, and what might it pay?"."""
    evaluation = evaluate_loss(
        policy,
        loss_date=request.loss_date,
        loss_type=request.loss_type,
        amount=request.amount_claimed,
        today=as_of.date(),
    )
    coverage = evaluation.coverage
    deductible = remaining = payable = None
    if coverage is not None:
        deductible = coverage.deductible
        remaining = remaining_for_peril(policy, claims, coverage)
        if evaluation.covered and request.amount_claimed is not None:
            payable = estimated_payable(request.amount_claimed.amount, deductible, remaining)
        elif not evaluation.covered:
            payable = ZERO
    else:
        payable = ZERO
    reasons = [CoverageReason(code=f.code, message=f.message) for f in evaluation.findings]
    first = evaluation.findings[0].refusal() if evaluation.findings else None
    return CoverageAnswer(
        policy_number=policy.policy_number,
        loss_date=request.loss_date,
        loss_type=request.loss_type,
        covered=evaluation.covered,
        reasons=reasons,
        refusal_code=first.code if first is not None else None,
        currency=policy.currency,
        deductible=deductible,
        remaining_limit=remaining,
        estimated_payable=payable,
        summary=_coverage_words(policy, request, evaluation, deductible, remaining, payable),
        as_of=as_of,
    )


def _coverage_words(
    policy: Policy,
    request: CoverageCheckRequest,
    evaluation: Evaluation,
    deductible: Decimal | None,
    remaining: Decimal | None,
    payable: Decimal | None,
) -> str:
    cur = policy.currency
    peril = request.loss_type.replace("_", " ")
    day = request.loss_date.isoformat()
    if not evaluation.covered:
        because = " ".join(f.message for f in evaluation.findings)
        return (
            f"A {peril} loss on {day} would not be covered by policy {policy.policy_number}. "
            f"{because}"
        )
    assert deductible is not None
    assert remaining is not None
    words = (
        f"A {peril} loss on {day} would be covered by policy {policy.policy_number}, with a "
        f"deductible of {_money(deductible, cur)} and {_money(remaining, cur)} of the limit "
        "left for it."
    )
    if payable is not None and request.amount_claimed is not None:
        words += (
            f" For {_money(request.amount_claimed.amount, cur)}, the estimated payable amount is "
            f"{_money(payable, cur)}, subject to the adjuster's review."
        )
    return words + " This is not a claim: nothing has been filed."
