""" "Am I covered?" and filing a claim read one evaluation (domain/coverage.py): for any policy
and loss, the coverage answer says covered exactly when a filing would be admitted, and a loss
it says is not covered is refused by the filing with the code the answer names."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from insurance_agent.domain.coverage import assess_coverage, check_claim_admissible
from insurance_agent.errors import InsuranceAgentError
from insurance_agent.models import ClaimRequest, CoverageCheckRequest, Money, Policy

from tests.unit.test_domain import claim, policy

PROPERTY = settings(max_examples=400, derandomize=True, database=None, deadline=None)
AS_OF = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
TODAY = AS_OF.date()
PERILS = ["collision", "theft", "fire", "water_damage", "windstorm"]


def money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


# Days from today: mostly a few either side, so that loss dates, today and a policy's
# boundaries (effective, expiration, termination) often fall on the same or the next day.
offsets = st.integers(min_value=-4, max_value=4) | st.integers(min_value=-800, max_value=800)


def around(days: int) -> date:
    return TODAY + timedelta(days=days)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    effective = around(draw(offsets))
    expiration = effective + timedelta(days=abs(draw(offsets)))
    status = draw(st.sampled_from(["active", "lapsed", "cancelled", "expired"]))
    terminated = None
    if status in ("lapsed", "cancelled") and draw(st.booleans()):
        terminated = min(expiration, effective + timedelta(days=abs(draw(offsets))))
    perils = draw(st.lists(st.sampled_from(PERILS), unique=True, max_size=4))
    coverages = [
        {
            "peril": peril,
            "limit": str(money(draw(st.integers(min_value=0, max_value=10**8)))),
            "deductible": str(money(draw(st.integers(min_value=0, max_value=10**6)))),
        }
        for peril in perils
    ]
    return policy(
        status=status,
        effective_date=effective.isoformat(),
        expiration_date=expiration.isoformat(),
        terminated_on=terminated.isoformat() if terminated else None,
        currency=draw(st.sampled_from(["USD", "EUR"])),
        coverages=coverages,
        totals={
            "aggregate_limit": str(money(draw(st.integers(min_value=0, max_value=10**9)))),
            "deductible": "500.00",
        },
    )


losses = st.fixed_dictionaries(
    {
        "loss_date": offsets.map(around),
        "loss_type": st.sampled_from([*PERILS, "earthquake"]),
        "amount_claimed": st.builds(
            Money,
            amount=(st.integers(min_value=-2, max_value=2) | st.integers(-(10**6), 10**9)).map(
                money
            ),
            currency=st.sampled_from(["USD", "EUR", "GBP"]),
        ),
    }
)


def filing_refusal(policy: Policy, loss: dict) -> InsuranceAgentError | None:
    request = ClaimRequest(
        policy_number=policy.policy_number,
        loss_date=loss["loss_date"],
        loss_type=loss["loss_type"],
        description="water everywhere",
        amount_claimed=loss["amount_claimed"],
    )
    try:
        check_claim_admissible(policy, request, today=TODAY)
    except InsuranceAgentError as refusal:
        return refusal
    return None


@PROPERTY
@given(policy=policies(), loss=losses)
def test_covered_exactly_when_a_filing_would_be_admitted_with_the_same_refusal(policy, loss):
    answer = assess_coverage(
        policy, [], CoverageCheckRequest(policy_number=policy.policy_number, **loss), as_of=AS_OF
    )
    refusal = filing_refusal(policy, loss)

    assert answer.covered == (refusal is None)
    assert answer.refusal_code == (refusal.code if refusal else None)
    assert bool(answer.reasons) == (not answer.covered)
    if refusal is not None:
        assert answer.estimated_payable == Decimal("0.00")
        assert all(reason.message for reason in answer.reasons)


@PROPERTY
@given(policy=policies(), loss=losses)
def test_without_an_amount_covered_means_a_filing_in_the_policy_currency_is_admitted(policy, loss):
    asked = {k: v for k, v in loss.items() if k != "amount_claimed"}
    answer = assess_coverage(
        policy, [], CoverageCheckRequest(policy_number=policy.policy_number, **asked), as_of=AS_OF
    )
    filed = loss | {"amount_claimed": Money(amount=Decimal("100.00"), currency=policy.currency)}

    assert answer.covered == (filing_refusal(policy, filed) is None)
    assert answer.estimated_payable is None or not answer.covered


@PROPERTY
@given(policy=policies(), loss=losses)
def test_covered_means_in_force_on_the_day_and_the_peril_listed_by_hand(policy, loss):
    answer = assess_coverage(
        policy, [], CoverageCheckRequest(policy_number=policy.policy_number, **loss), as_of=AS_OF
    )
    day = loss["loss_date"]
    in_term = policy.effective_date <= day <= policy.expiration_date
    ended_before = policy.status in ("lapsed", "cancelled") and (
        policy.terminated_on is None or day >= policy.terminated_on
    )
    listed = loss["loss_type"] in {c.peril for c in policy.coverages}
    expected = (
        in_term
        and not ended_before
        and listed
        and day <= TODAY
        and loss["amount_claimed"].amount > 0
        and loss["amount_claimed"].currency == policy.currency
    )
    assert answer.covered == expected


def seeded_home() -> Policy:
    return policy(
        policy_number="POL-30001",
        product_line="home",
        coverages=[
            {"peril": "fire", "limit": "400000.00", "deductible": "1500.00"},
            {"peril": "water_damage", "limit": "25000.00", "deductible": "1500.00"},
            {"peril": "windstorm", "limit": "300000.00", "deductible": "5000.00"},
        ],
        totals={"aggregate_limit": "400000.00", "deductible": "1500.00"},
    )


def water(claim_id: str, status: str, claimed: str, paid: str, reserve: str):
    return claim(claim_id, status, claimed, paid, reserve).model_copy(
        update={"loss_type": "water_damage", "policy_number": "POL-30001"}
    )


def ask(**fields) -> CoverageCheckRequest:
    return CoverageCheckRequest(policy_number="POL-30001", loss_date=date(2026, 6, 1), **fields)


def test_a_sub_limit_leaves_what_its_own_claims_did_not_use():
    claims = [
        water("CLM-000301", "paid", "14000.00", "12500.00", "0"),
        water("CLM-000302", "under_review", "6000.00", "0", "4000.00"),
    ]
    answer = assess_coverage(
        seeded_home(),
        claims,
        ask(
            loss_type="water_damage",
            amount_claimed=Money(amount=Decimal("9000.00"), currency="USD"),
        ),
        as_of=AS_OF,
    )
    assert answer.covered
    assert answer.deductible == Decimal("1500.00")
    # 25,000 sub-limit - 12,500 paid - 4,000 reserved; the aggregate has far more left.
    assert answer.remaining_limit == Decimal("8500.00")
    assert answer.estimated_payable == Decimal("7500.00")  # 9,000 - 1,500 deductible


def test_a_peril_deductible_applies_and_words_can_be_quoted():
    answer = assess_coverage(
        seeded_home(),
        [],
        ask(loss_type="windstorm", amount_claimed=Money(amount=Decimal("4000.00"), currency="USD")),
        as_of=AS_OF,
    )
    assert answer.covered
    assert answer.deductible == Decimal("5000.00")
    assert answer.estimated_payable == Decimal("0.00")
    assert "deductible of 5,000.00 USD" in answer.summary


@pytest.mark.parametrize(
    ("fields", "codes", "refusal"),
    [
        ({"loss_type": "earthquake"}, ["peril_not_covered"], "PERIL_NOT_COVERED"),
        (
            {"loss_type": "fire", "loss_date": date(2027, 1, 1)},
            ["loss_date_in_future", "policy_not_in_force"],
            "VALIDATION_FAILED",
        ),
        (
            {"loss_type": "fire", "amount_claimed": Money(amount=Decimal("10.00"), currency="EUR")},
            ["currency_mismatch"],
            "VALIDATION_FAILED",
        ),
        (
            {"loss_type": "fire", "amount_claimed": Money(amount=Decimal("0.00"), currency="USD")},
            ["amount_not_positive"],
            "VALIDATION_FAILED",
        ),
    ],
)
def test_every_reason_is_given_in_the_order_a_filing_checks_them(fields, codes, refusal):
    asked = {"loss_date": date(2026, 6, 1)} | fields
    answer = assess_coverage(
        seeded_home(), [], CoverageCheckRequest(policy_number="POL-30001", **asked), as_of=AS_OF
    )
    assert not answer.covered
    assert [r.code for r in answer.reasons] == codes
    assert answer.refusal_code == refusal
    assert answer.summary.startswith("A ")
