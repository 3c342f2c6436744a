"""Seeded reference data. Dates are relative to the day of seeding so the cases stay true.

Ids follow a numbering (``REFERENCE_NUMBERING``): ``default`` is POL-10001 / cust-7788 /
CLM-000101; ``insurer`` is another insurer's (P00010001 / C007788 / CL00000101), for the
tests that run the API with its identifier patterns set to that numbering.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

D = Decimal


@dataclass(frozen=True)
class Numbering:
    policy: str
    customer: str
    claim: str
    # What the service accepts as a policy number in a new claim.
    policy_pattern: str

    def p(self, n: int) -> str:
        return self.policy.format(n=n)

    def c(self, n: int) -> str:
        return self.customer.format(n=n)

    def k(self, n: int) -> str:
        return self.claim.format(n=n)


NUMBERINGS = {
    "default": Numbering("POL-{n:05d}", "cust-{n}", "CLM-{n:06d}", r"^POL-[0-9]{5,10}$"),
    "insurer": Numbering("P{n:08d}", "C{n:06d}", "CL{n:08d}", r"^P[0-9]{8}$"),
}


def numbering() -> Numbering:
    name = os.environ.get("REFERENCE_NUMBERING", "default")
    if name not in NUMBERINGS:
        raise SystemExit(f"REFERENCE_NUMBERING must be one of {', '.join(NUMBERINGS)}")
    return NUMBERINGS[name]


def seed_rows(today: date, ids: Numbering | None = None) -> dict[str, list[tuple[Any, ...]]]:
    ids = ids or numbering()
    p, c, k = ids.p, ids.c, ids.k

    def ago(days: int) -> date:
        return today - timedelta(days=days)

    customers = [
        (
            c(7788),
            "Dana Whitfield",
            "dana.whitfield@example.com",
            "+1 415 555 0142",
            date(1984, 3, 14),
            "123-45-6789",
            "email",
            "en",
            "18 Alder Lane, Sausalito, CA 94965",
        ),
        (
            c(9001),
            "Ravi Menon",
            "ravi.menon@example.com",
            "+1 206 555 0199",
            date(1979, 11, 2),
            "987-65-4321",
            "sms",
            "en",
            "402 Pine Street, Seattle, WA 98101",
        ),
        # A policyholder of long standing: home, two autos (one expired) and an umbrella,
        # with paid, rejected and open claims across them (the "applicant history").
        (
            c(5150),
            "Lucía Ortega",
            "lucia.ortega@example.com",
            "+1 305 555 0117",
            date(1971, 7, 23),
            "555-12-3456",
            "phone",
            "es",
            "77 Coral Way, Miami, FL 33145",
        ),
    ]
    # policy_number, customer, status, line, effective, expiration, terminated_on, currency,
    # aggregate limit, deductible
    policies = [
        (
            p(10001),
            c(7788),
            "active",
            "auto",
            ago(180),
            ago(-185),
            None,
            "USD",
            D("50000.00"),
            D("500.00"),
        ),
        (
            p(10002),
            c(7788),
            "lapsed",
            "auto",
            ago(300),
            ago(-65),
            ago(30),
            "USD",
            D("30000.00"),
            D("750.00"),
        ),
        (
            p(10003),
            c(7788),
            "expired",
            "home",
            ago(730),
            ago(366),
            None,
            "USD",
            D("250000.00"),
            D("1000.00"),
        ),
        (
            p(20001),
            c(9001),
            "active",
            "home",
            ago(90),
            ago(-275),
            None,
            "USD",
            D("300000.00"),
            D("1000.00"),
        ),
        (
            p(20002),
            c(9001),
            "cancelled",
            "auto",
            ago(200),
            ago(-165),
            ago(10),
            "USD",
            D("40000.00"),
            D("500.00"),
        ),
        (
            p(30001),
            c(5150),
            "active",
            "home",
            ago(200),
            ago(-165),
            None,
            "USD",
            D("400000.00"),
            D("1500.00"),
        ),
        (
            p(30002),
            c(5150),
            "active",
            "auto",
            ago(100),
            ago(-265),
            None,
            "USD",
            D("60000.00"),
            D("500.00"),
        ),
        (
            p(30003),
            c(5150),
            "expired",
            "auto",
            ago(900),
            ago(535),
            None,
            "USD",
            D("45000.00"),
            D("500.00"),
        ),
        (
            p(30004),
            c(5150),
            "active",
            "umbrella",
            ago(200),
            ago(-165),
            None,
            "USD",
            D("1000000.00"),
            D("0.00"),
        ),
    ]
    coverages = [
        (p(10001), "collision", D("50000.00"), D("500.00")),
        (p(10001), "comprehensive", D("50000.00"), D("500.00")),
        (p(10001), "theft", D("50000.00"), D("500.00")),
        (p(10002), "collision", D("30000.00"), D("750.00")),
        (p(10003), "fire", D("250000.00"), D("1000.00")),
        (p(20001), "fire", D("300000.00"), D("1000.00")),
        (p(20001), "water_damage", D("50000.00"), D("1000.00")),
        (p(20001), "windstorm", D("200000.00"), D("2500.00")),
        (p(20001), "theft", D("25000.00"), D("500.00")),
        (p(20002), "collision", D("40000.00"), D("500.00")),
        # Water damage is a sub-limit inside the home policy's aggregate; windstorm has its
        # own (higher) deductible.
        (p(30001), "fire", D("400000.00"), D("1500.00")),
        (p(30001), "water_damage", D("25000.00"), D("1500.00")),
        (p(30001), "windstorm", D("300000.00"), D("5000.00")),
        (p(30002), "collision", D("60000.00"), D("500.00")),
        (p(30002), "theft", D("60000.00"), D("500.00")),
        (p(30003), "collision", D("45000.00"), D("500.00")),
        (p(30004), "liability", D("1000000.00"), D("0.00")),
    ]
    now = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    # claim, policy, customer, status, loss date, type, description, claimed, paid, reserve
    claims = [
        (
            k(101),
            p(10001),
            c(7788),
            "paid",
            ago(120),
            "collision",
            "Rear-ended at a stop light; bumper and tail light replaced.",
            D("1700.00"),
            D("1200.00"),
            D("0.00"),
            now - timedelta(days=118),
        ),
        (
            k(102),
            p(10001),
            c(7788),
            "under_review",
            ago(20),
            "comprehensive",
            "Hail damage to roof and hood.",
            D("3000.00"),
            D("0.00"),
            D("2500.00"),
            now - timedelta(days=19),
        ),
        (
            k(201),
            p(20001),
            c(9001),
            "closed",
            ago(60),
            "water_damage",
            "Burst pipe under kitchen sink.",
            D("9000.00"),
            D("8000.00"),
            D("0.00"),
            now - timedelta(days=58),
        ),
        (
            k(202),
            p(20001),
            c(9001),
            "submitted",
            ago(5),
            "windstorm",
            "Fence and shed roof blown down in a storm.",
            D("12000.00"),
            D("0.00"),
            D("10000.00"),
            now - timedelta(days=4),
        ),
        (
            k(301),
            p(30001),
            c(5150),
            "paid",
            ago(150),
            "water_damage",
            "Washing machine hose burst; laundry room floor and drywall replaced.",
            D("14000.00"),
            D("12500.00"),
            D("0.00"),
            now - timedelta(days=148),
        ),
        (
            k(302),
            p(30001),
            c(5150),
            "under_review",
            ago(12),
            "water_damage",
            "Roof leak after heavy rain stained the bedroom ceiling.",
            D("6000.00"),
            D("0.00"),
            D("4000.00"),
            now - timedelta(days=11),
        ),
        (
            k(303),
            p(30002),
            c(5150),
            "rejected",
            ago(60),
            "theft",
            "Phone taken from the car; no sign of forced entry.",
            D("900.00"),
            D("0.00"),
            D("0.00"),
            now - timedelta(days=59),
        ),
        (
            k(304),
            p(30003),
            c(5150),
            "paid",
            ago(700),
            "collision",
            "Side-swiped on the highway; door and mirror replaced.",
            D("4200.00"),
            D("3700.00"),
            D("0.00"),
            now - timedelta(days=698),
        ),
    ]
    return {"customers": customers, "policies": policies, "coverages": coverages, "claims": claims}


def reset(conn: psycopg.Connection[Any], today: date | None = None) -> None:
    """Replace all reference data with the seed (dev and tests only)."""
    rows = seed_rows(today or datetime.now(UTC).date())
    with conn.transaction():
        conn.execute(
            "TRUNCATE reference.claims, reference.coverages, reference.policies, "
            "reference.customers"
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO reference.customers (customer_id, full_name, email, phone,"
                " date_of_birth, national_id, preferred_contact_channel, preferred_language,"
                " address) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows["customers"],
            )
            cur.executemany(
                "INSERT INTO reference.policies VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows["policies"],
            )
            cur.executemany(
                "INSERT INTO reference.coverages VALUES (%s, %s, %s, %s)", rows["coverages"]
            )
            cur.executemany(
                "INSERT INTO reference.claims (claim_id, policy_number, customer_id, status,"
                " loss_date, loss_type, description, amount_claimed, paid_amount,"
                " reserve_amount, created_at, currency)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'USD')",
                rows["claims"],
            )


def seed_if_empty(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT count(*) FROM reference.policies").fetchone()
    if row and row[0]:
        return False
    reset(conn)
    return True
