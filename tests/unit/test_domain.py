"""Coverage rules and summary arithmetic, without I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from insurance_agent.domain.coverage import check_claim_admissible, in_force_on
from insurance_agent.domain.summary import estimated_payable, summarize
from insurance_agent.errors import (
    ClaimNotFound,
    PerilNotCovered,
    PolicyNotInForce,
    ValidationFailed,
)
from insurance_agent.models import Claim, ClaimRequest, Policy

TODAY = date(2026, 6, 15)


def policy(**overrides) -> Policy:
    data = {
        "policy_number": "POL-10001",
        "status": "active",
        "product_line": "auto",
        "customer_id": "cust-7788",
        "effective_date": "2026-01-01",
        "expiration_date": "2026-12-31",
        "currency": "USD",
        "coverages": [{"peril": "collision", "limit": "50000.00", "deductible": "500.00"}],
        "totals": {"aggregate_limit": "50000.00", "deductible": "500.00"},
    } | overrides
    return Policy.model_validate(data)


def claim_request(**overrides) -> ClaimRequest:
    data = {
        "policy_number": "POL-10001",
        "loss_date": "2026-06-10",
        "loss_type": "collision",
        "description": "dent",
        "amount_claimed": {"amount": "1000.00", "currency": "USD"},
    } | overrides
    return ClaimRequest.model_validate(data)


def claim(claim_id: str, status: str, claimed: str, paid: str = "0", reserve: str = "0") -> Claim:
    return Claim.model_validate(
        {
            "claim_id": claim_id,
            "policy_number": "POL-10001",
            "customer_id": "cust-7788",
            "status": status,
            "loss_date": "2026-05-01",
            "loss_type": "collision",
            "description": "x",
            "amount_claimed": {"amount": claimed, "currency": "USD"},
            "paid_amount": paid,
            "reserve_amount": reserve,
            "created_at": datetime(2026, 5, 2, tzinfo=UTC),
        }
    )


@pytest.mark.parametrize(
    ("overrides", "day", "expected"),
    [
        ({}, date(2026, 6, 10), True),
        ({}, date(2025, 12, 31), False),
        ({}, date(2027, 1, 1), False),
        ({"status": "lapsed", "terminated_on": "2026-06-01"}, date(2026, 5, 31), True),
        ({"status": "lapsed", "terminated_on": "2026-06-01"}, date(2026, 6, 1), False),
        ({"status": "cancelled", "terminated_on": None}, date(2026, 6, 10), False),
        ({"status": "expired"}, date(2026, 6, 10), True),
    ],
)
def test_in_force_on(overrides, day, expected):
    assert in_force_on(policy(**overrides), day) is expected


def test_admissible_claim_returns_its_coverage():
    assert check_claim_admissible(policy(), claim_request(), today=TODAY).peril == "collision"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"amount_claimed": {"amount": "0.00", "currency": "USD"}}, ValidationFailed),
        ({"amount_claimed": {"amount": "10.00", "currency": "EUR"}}, ValidationFailed),
        ({"loss_date": (TODAY + timedelta(days=1)).isoformat()}, ValidationFailed),
        ({"loss_date": "2025-06-01"}, PolicyNotInForce),
        ({"loss_type": "flood"}, PerilNotCovered),
    ],
)
def test_inadmissible_claims(overrides, error):
    with pytest.raises(error):
        check_claim_admissible(policy(), claim_request(**overrides), today=TODAY)


@pytest.mark.parametrize(
    ("claimed", "deductible", "remaining", "expected"),
    [
        ("3000.00", "500.00", "46300.00", "2500.00"),
        ("400.00", "500.00", "46300.00", "0.00"),
        ("90000.00", "500.00", "46300.00", "46300.00"),
        ("1000.00", "500.00", "0.00", "0.00"),
    ],
)
def test_estimated_payable(claimed, deductible, remaining, expected):
    result = estimated_payable(Decimal(claimed), Decimal(deductible), Decimal(remaining))
    assert result == Decimal(expected)
    assert isinstance(result, Decimal)


def test_summary_counts_paid_everywhere_and_reserves_on_open_claims_only():
    claims = [
        claim("CLM-000001", "paid", "1700.00", paid="1200.00"),
        claim("CLM-000002", "under_review", "3000.00", reserve="2500.00"),
        claim("CLM-000003", "closed", "100.00", reserve="50.00"),  # stale reserve, closed
    ]
    as_of = datetime(2026, 6, 15, tzinfo=UTC)

    summary = summarize(policy(), claims, claim_id="CLM-000002", as_of=as_of)

    assert summary.paid_to_date == Decimal("1200.00")
    assert summary.reserved_to_date == Decimal("2500.00")
    assert summary.remaining_limit == Decimal("46300.00")
    assert [c.claim_id for c in summary.open_claims] == ["CLM-000002"]
    assert summary.claim is not None
    assert summary.claim.estimated_payable == Decimal("2500.00")
    assert "46,300.00 USD" in summary.summary
    assert "1 claim is open" in summary.summary


def test_summary_of_an_unknown_claim():
    with pytest.raises(ClaimNotFound):
        summarize(policy(), [], claim_id="CLM-000404", as_of=datetime(2026, 6, 1, tzinfo=UTC))


def test_money_serialises_as_exact_strings():
    dumped = claim_request().model_dump(mode="json")
    assert dumped["amount_claimed"] == {"amount": "1000.00", "currency": "USD"}
