"""Who holds a policy: the profile and the history an underwriter or a claims handler reads."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from insurance_agent.models import (
    Claim,
    ClaimsHistory,
    Customer,
    Money,
    Policy,
    Policyholder,
    PolicyholderPolicy,
)

ZERO = Decimal("0.00")
CLOSED_UNPAID = frozenset({"rejected", "withdrawn"})


def claims_history(claims: Sequence[Claim]) -> ClaimsHistory:
    """Counts of the customer's claims by where they stand, and the paid total per currency."""
    paid: dict[str, Decimal] = {}
    for claim in claims:
        if claim.paid_amount > ZERO:
            currency = claim.amount_claimed.currency
            paid[currency] = paid.get(currency, ZERO) + claim.paid_amount
    return ClaimsHistory(
        total=len(claims),
        open=sum(1 for c in claims if c.is_open),
        paid=sum(1 for c in claims if c.paid_amount > ZERO),
        rejected_or_withdrawn=sum(1 for c in claims if c.status in CLOSED_UNPAID),
        paid_totals=[
            Money(amount=amount.quantize(ZERO), currency=currency)
            for currency, amount in sorted(paid.items())
        ],
    )


def policyholder(
    customer: Customer,
    asked: Policy,
    others: Sequence[Policy],
    claims: Sequence[Claim],
) -> Policyholder:
    """``customer`` as the summary of ``asked`` shows them: their other policies, and the
    history of every claim on any of their policies (``claims``)."""
    return Policyholder(
        customer_id=customer.customer_id,
        full_name=customer.full_name,
        preferred_contact_channel=customer.preferred_contact_channel,
        preferred_language=customer.preferred_language,
        other_policies=[
            PolicyholderPolicy(
                policy_number=p.policy_number, product_line=p.product_line, status=p.status
            )
            for p in sorted(others, key=lambda p: p.policy_number)
            if p.policy_number != asked.policy_number
        ],
        claims_history=claims_history(claims),
    )
