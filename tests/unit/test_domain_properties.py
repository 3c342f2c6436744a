"""Property tests of the money and date rules (hypothesis).

Each property is checked against something other than the code under test: whole cents as
integers, a date rule spelt out from its definition, bounds and monotonicity, or formatting
done by hand. Deterministic (derandomized) so CI sees the same examples every run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from insurance_agent.domain.coverage import check_claim_admissible, in_force_on
from insurance_agent.domain.summary import estimated_payable, summarize
from insurance_agent.errors import (
    InsuranceAgentError,
    PerilNotCovered,
    PolicyNotInForce,
    ValidationFailed,
)
from insurance_agent.models import OPEN_CLAIM_STATUSES, ClaimRequest, Money, Policy
from pydantic import ValidationError

from tests.unit.test_domain import claim, policy

PROPERTY = settings(max_examples=200, derandomize=True, database=None, deadline=None)

MAX_CENTS = 10**15 - 1  # 13 integer digits and 2 decimals
TODAY = date(2026, 6, 15)
PERILS = ["collision", "theft", "fire", "water_damage", "windstorm"]
STATUSES = ["submitted", "under_review", "approved", "paid", "closed", "rejected", "withdrawn"]


def outcome[T](
    call: Callable[..., T], *args: Any, **kwargs: Any
) -> tuple[T | None, Exception | None]:
    """What a rule answered: the value, or the refusal it raised."""
    try:
        return call(*args, **kwargs), None
    except (InsuranceAgentError, ValidationError) as refusal:
        return None, refusal


def money(cents: int) -> Decimal:
    """Whole cents to an amount, without going through the code under test."""
    return Decimal(cents).scaleb(-2)


cents = st.integers(min_value=0, max_value=10**11)  # up to a billion: room to add several
signed_cents = st.integers(min_value=-(10**11), max_value=10**11)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))


# -- estimated payable = max(0, claimed - deductible), capped by the remaining limit --------


@PROPERTY
@given(claimed=cents, deductible=cents, remaining=cents)
def test_payable_is_the_middle_of_zero_claimed_less_deductible_and_remaining(
    claimed, deductible, remaining
):
    # With remaining >= 0, max(0, min(x, r)) is the median of (0, x, r): a different spelling.
    expected = sorted([0, claimed - deductible, remaining])[1]

    assert estimated_payable(money(claimed), money(deductible), money(remaining)) == money(expected)


@PROPERTY
@given(claimed=cents, deductible=cents, remaining=cents, more=cents)
def test_payable_is_bounded_and_moves_the_right_way(claimed, deductible, remaining, more):
    pay = estimated_payable(money(claimed), money(deductible), money(remaining))

    assert Decimal(0) <= pay <= money(remaining)
    assert pay <= max(Decimal(0), money(claimed - deductible))
    assert pay.as_tuple().exponent == -2  # always cents
    # More claimed or more limit left never pays less; a higher deductible never pays more.
    assert estimated_payable(money(claimed + more), money(deductible), money(remaining)) >= pay
    assert estimated_payable(money(claimed), money(deductible), money(remaining + more)) >= pay
    assert estimated_payable(money(claimed), money(deductible + more), money(remaining)) <= pay


# -- the coverage position of a policy ------------------------------------------------------


def policy_with(limit: int, deductible: int, currency: str = "USD") -> Policy:
    return policy(
        currency=currency,
        coverages=[
            {"peril": "collision", "limit": str(money(limit)), "deductible": str(money(deductible))}
        ],
        totals={"aggregate_limit": str(money(limit)), "deductible": str(money(deductible))},
    )


claims_strategy = st.lists(
    st.tuples(st.sampled_from(STATUSES), cents, cents, cents),  # status, claimed, paid, reserve
    max_size=6,
).map(
    lambda rows: [
        claim(f"CLM-{i:06d}", status, *(str(money(c)) for c in (claimed, paid, reserve)))
        for i, (status, claimed, paid, reserve) in enumerate(rows)
    ]
)
AS_OF = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def cents_of(amount: Decimal) -> int:
    return int(amount * 100)


@PROPERTY
@given(limit=cents, deductible=cents, claims=claims_strategy)
def test_remaining_limit_is_limit_less_paid_and_open_reserves_never_negative(
    limit, deductible, claims
):
    summary = summarize(policy_with(limit, deductible), claims, claim_id=None, as_of=AS_OF)

    paid = sum(cents_of(c.paid_amount) for c in claims)
    reserved = sum(cents_of(c.reserve_amount) for c in claims if c.status in OPEN_CLAIM_STATUSES)
    assert cents_of(summary.paid_to_date) == paid
    assert cents_of(summary.reserved_to_date) == reserved
    assert cents_of(summary.remaining_limit) == max(0, limit - paid - reserved)
    assert summary.remaining_limit >= 0
    assert {c.claim_id for c in summary.open_claims} == {
        c.claim_id for c in claims if c.status in OPEN_CLAIM_STATUSES
    }


@PROPERTY
@given(limit=cents, deductible=cents, claims=claims_strategy, extra=claims_strategy)
def test_another_claim_never_leaves_more_limit(limit, deductible, claims, extra):
    policy = policy_with(limit, deductible)
    renumbered = [c.model_copy(update={"claim_id": f"CLM-9{i:05d}"}) for i, c in enumerate(extra)]
    before = summarize(policy, claims, claim_id=None, as_of=AS_OF)
    after = summarize(policy, claims + renumbered, claim_id=None, as_of=AS_OF)

    assert after.remaining_limit <= before.remaining_limit
    assert after.paid_to_date >= before.paid_to_date


@PROPERTY
@given(
    limit=cents,
    deductible=cents,
    claims=claims_strategy.filter(bool),
    pick=st.integers(min_value=0, max_value=5),
)
def test_a_claims_estimate_is_capped_by_what_the_limit_has_left(limit, deductible, claims, pick):
    chosen = claims[pick % len(claims)]
    summary = summarize(
        policy_with(limit, deductible), claims, claim_id=chosen.claim_id, as_of=AS_OF
    )

    assert summary.claim is not None
    pay = summary.claim.estimated_payable
    assert Decimal(0) <= pay <= summary.remaining_limit
    # The claim's peril sets its deductible (a windstorm deductible, say), as a coverage
    # question answers it.
    assert summary.claim.deductible == policy_with(limit, deductible).coverages[0].deductible
    assert pay <= max(Decimal(0), chosen.amount_claimed.amount - summary.claim.deductible)


def grouped(amount_cents: int) -> str:
    """1234567 cents -> "12,345.67", by hand (no format spec)."""
    whole, cent = divmod(amount_cents, 100)
    digits = str(whole)
    groups = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return f"{','.join(groups) or '0'}.{cent:02d}"


@PROPERTY
@given(
    limit=cents,
    deductible=cents,
    claims=claims_strategy.filter(bool),
    currency=st.sampled_from(["USD", "EUR", "GBP"]),
)
def test_the_plain_language_summary_states_every_figure_in_grouped_cents(
    limit, deductible, claims, currency
):
    policy = policy_with(limit, deductible, currency)
    summary = summarize(policy, claims, claim_id=claims[0].claim_id, as_of=AS_OF)
    assert summary.claim is not None

    for figure in (
        summary.coverage_limit,
        summary.deductible,
        summary.paid_to_date,
        summary.reserved_to_date,
        summary.remaining_limit,
        summary.claim.amount_claimed.amount,
        summary.claim.estimated_payable,
    ):
        assert f"{grouped(cents_of(figure))} {currency}" in summary.summary
    # Nothing else in it looks like money: every amount has two decimals and the currency.
    for spelt in re.findall(r"([0-9][0-9,]*\.[0-9]+) ([A-Z]{3})", summary.summary):
        assert re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})*\.[0-9]{2}", spelt[0]), spelt
        assert spelt[1] == currency


# -- Money at the edge: Decimal, two decimals, an ISO code ---------------------------------


@PROPERTY
@given(
    amount=st.integers(min_value=-MAX_CENTS, max_value=MAX_CENTS), places=st.sampled_from([0, 1, 2])
)
def test_money_keeps_the_exact_value_with_two_decimals(amount, places):
    # The same value written with 0, 1 or 2 decimals, when it has that few.
    value = money(amount)
    assume(value == value.quantize(Decimal(1).scaleb(-places)))
    text = f"{value:.{places}f}"

    held = Money.model_validate({"amount": text, "currency": "USD"})

    assert held.amount == value
    assert held.model_dump(mode="json")["amount"] == f"{value:.2f}"


@PROPERTY
@given(
    text=st.one_of(
        st.text(max_size=12),
        st.from_regex(r"\A[0-9]{1,4}\.[0-9]{3,5}\Z"),  # too many decimals
        st.from_regex(r"\A[0-9]\.[0-9]{1,3}[eE][+-]?[0-9]{1,2}\Z"),  # exponent form
        st.sampled_from(["NaN", "Infinity", "-Infinity", "1_000", "١٢", "+5", ".5", "5.", ""]),
    )
)
def test_money_text_is_digits_with_at_most_two_decimals_or_refused(text):
    stripped = text.strip()
    head, _, tail = stripped.removeprefix("-").partition(".")
    ascii_digits = set("0123456789")
    well_formed = (
        0 < len(head) <= 13
        and set(head) <= ascii_digits
        and ("." not in stripped or (0 < len(tail) <= 2 and set(tail) <= ascii_digits))
    )
    held, refusal = outcome(Money.model_validate, {"amount": text, "currency": "USD"})

    if well_formed:
        assert held is not None, refusal
        assert held.amount == Decimal(stripped)
    else:
        assert isinstance(refusal, ValidationError)
        assert refusal.errors()[0]["loc"] == ("amount",)


@PROPERTY
@given(code=st.text(max_size=5))
def test_currency_is_three_ascii_capitals(code):
    expected = len(code.strip()) == 3 and all("A" <= ch <= "Z" for ch in code.strip())
    try:
        Money.model_validate({"amount": "1.00", "currency": code})
    except ValidationError:
        assert not expected
    else:
        assert expected


@PROPERTY
@given(number=st.floats(allow_nan=True, allow_infinity=True))
def test_a_json_number_amount_is_finite_and_in_cents_or_refused(number):
    try:
        held = Money.model_validate({"amount": number, "currency": "USD"})
    except ValidationError:
        pass
    else:
        assert held.amount.is_finite()
        assert held.amount == Decimal(repr(number))  # the number as written, not binary noise
        assert abs(held.amount) < Decimal(10) ** 13


# -- first notice of loss: amount > 0, currency, not in the future, in force, covered -------


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    effective = draw(days)
    expiration = effective + timedelta(days=draw(st.integers(min_value=0, max_value=800)))
    status = draw(st.sampled_from(["active", "lapsed", "cancelled", "expired"]))
    terminated = None
    if status in ("lapsed", "cancelled"):
        terminated = draw(st.none() | days)
    perils = draw(st.lists(st.sampled_from(PERILS), unique=True, max_size=3))
    return policy(
        status=status,
        effective_date=effective,
        expiration_date=expiration,
        terminated_on=terminated,
        currency=draw(st.sampled_from(["USD", "EUR"])),
        coverages=[{"peril": p, "limit": "1000.00", "deductible": "100.00"} for p in perils],
        totals={"aggregate_limit": "1000.00", "deductible": "100.00"},
    )


def covered_on(policy: Policy, day: date) -> bool:
    """The rule as the business states it, day by day."""
    in_term = policy.effective_date <= day <= policy.expiration_date
    ended_early = policy.status in ("lapsed", "cancelled")
    if not ended_early:
        return in_term
    return in_term and policy.terminated_on is not None and day < policy.terminated_on


@PROPERTY
@given(policy=policies(), day=days)
def test_in_force_matches_the_rule_spelt_out(policy, day):
    assert in_force_on(policy, day) is covered_on(policy, day)


@PROPERTY
@given(policy=policies(), day=days, later=st.integers(min_value=1, max_value=400))
def test_cover_ending_later_never_removes_cover(policy, day, later):
    assume(policy.terminated_on is not None)
    extended = policy.model_copy(
        update={"terminated_on": policy.terminated_on + timedelta(days=later)}
    )

    assert in_force_on(extended, day) >= in_force_on(policy, day)


@PROPERTY
@given(
    policy=policies(),
    loss_date=days,
    peril=st.sampled_from(PERILS),
    amount=signed_cents,
    currency=st.sampled_from(["USD", "EUR"]),
    today=days,
)
def test_a_claim_is_admitted_exactly_when_every_rule_holds(
    policy, loss_date, peril, amount, currency, today
):
    claim = ClaimRequest.model_validate(
        {
            "policy_number": policy.policy_number,
            "loss_date": loss_date,
            "loss_type": peril,
            "description": "x",
            "amount_claimed": {"amount": str(money(amount)), "currency": currency},
        }
    )
    rules = {
        "positive": amount > 0,
        "currency": currency == policy.currency,
        "not_future": loss_date <= today,
        "in_force": covered_on(policy, loss_date),
        "covered": peril in {c.peril for c in policy.coverages},
    }

    coverage, refusal = outcome(check_claim_admissible, policy, claim, today=today)

    broken = [name for name, holds in rules.items() if not holds]
    if not broken:
        assert coverage is not None, refusal
        assert coverage.peril == peril
    else:
        # The first rule broken, in the order an agent should fix them, is the one named.
        expected = {
            "positive": ValidationFailed,
            "currency": ValidationFailed,
            "not_future": ValidationFailed,
            "in_force": PolicyNotInForce,
            "covered": PerilNotCovered,
        }[broken[0]]
        assert type(refusal) is expected, (broken, refusal)


@pytest.mark.parametrize("amount", ["0.00", "-0.01", "-1250.00"])
def test_zero_and_negative_amounts_are_named(amount):
    claim = ClaimRequest.model_validate(
        {
            "policy_number": "POL-10001",
            "loss_date": TODAY,
            "loss_type": "collision",
            "description": "x",
            "amount_claimed": {"amount": amount, "currency": "USD"},
        }
    )
    policy = policy_with(100_000, 500)
    with pytest.raises(ValidationFailed) as raised:
        check_claim_admissible(policy, claim, today=TODAY)
    assert raised.value.details["field"] == "amount_claimed.amount"
