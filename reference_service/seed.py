"""Seeded reference data. Dates are relative to the day of seeding so the cases stay true."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

D = Decimal


def seed_rows(today: date) -> dict[str, list[tuple[Any, ...]]]:
    def ago(days: int) -> date:
        return today - timedelta(days=days)

    customers = [
        (
            "cust-7788",
            "Dana Whitfield",
            "dana.whitfield@example.com",
            "+1 415 555 0142",
            date(1984, 3, 14),
            "123-45-6789",
        ),
        (
            "cust-9001",
            "Ravi Menon",
            "ravi.menon@example.com",
            "+1 206 555 0199",
            date(1979, 11, 2),
            "987-65-4321",
        ),
    ]
    # policy_number, customer, status, line, effective, expiration, terminated_on, currency,
    # aggregate limit, deductible
    policies = [
        (
            "POL-10001",
            "cust-7788",
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
            "POL-10002",
            "cust-7788",
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
            "POL-10003",
            "cust-7788",
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
            "POL-20001",
            "cust-9001",
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
            "POL-20002",
            "cust-9001",
            "cancelled",
            "auto",
            ago(200),
            ago(-165),
            ago(10),
            "USD",
            D("40000.00"),
            D("500.00"),
        ),
    ]
    coverages = [
        ("POL-10001", "collision", D("50000.00"), D("500.00")),
        ("POL-10001", "comprehensive", D("50000.00"), D("500.00")),
        ("POL-10001", "theft", D("50000.00"), D("500.00")),
        ("POL-10002", "collision", D("30000.00"), D("750.00")),
        ("POL-10003", "fire", D("250000.00"), D("1000.00")),
        ("POL-20001", "fire", D("300000.00"), D("1000.00")),
        ("POL-20001", "water_damage", D("50000.00"), D("1000.00")),
        ("POL-20001", "windstorm", D("200000.00"), D("2500.00")),
        ("POL-20001", "theft", D("25000.00"), D("500.00")),
        ("POL-20002", "collision", D("40000.00"), D("500.00")),
    ]
    now = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    # claim, policy, customer, status, loss date, type, description, claimed, paid, reserve
    claims = [
        (
            "CLM-000101",
            "POL-10001",
            "cust-7788",
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
            "CLM-000102",
            "POL-10001",
            "cust-7788",
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
            "CLM-000201",
            "POL-20001",
            "cust-9001",
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
            "CLM-000202",
            "POL-20001",
            "cust-9001",
            "submitted",
            ago(5),
            "windstorm",
            "Fence and shed roof blown down in a storm.",
            D("12000.00"),
            D("0.00"),
            D("10000.00"),
            now - timedelta(days=4),
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
                "INSERT INTO reference.customers VALUES (%s, %s, %s, %s, %s, %s)",
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
