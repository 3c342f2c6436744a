"""No secret and no seeded personal value in any log or audit row: the whole suite's captured
output, a deliberately careless run's logs (events logged at DEBUG, a password in
DATABASE_URL, secrets sent by the caller), and every row of the session's audit table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from insurance_agent.personal_data import open_rows, wrapper_from_environment
from psycopg.rows import dict_row

from tests.trust.suite_logs import CAPTURED

ROOT = Path(__file__).resolve().parents[2]


def _seeded_customers(database_url: str) -> list[dict[str, str]]:
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        rows = conn.execute(
            "SELECT email, phone, date_of_birth::text AS date_of_birth, national_id "
            "FROM reference.customers WHERE customer_id IN ('cust-7788', 'cust-9001') "
            "ORDER BY customer_id"
        ).fetchall()
    assert len(rows) == 2
    return rows


def _audit_text(database_url: str, conversation_id: str | None = None) -> str:
    where, params = "", tuple[str, ...]()
    if conversation_id is not None:
        where, params = " WHERE conversation_id = %s", (conversation_id,)
    sql = "SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM agent_interactions t" + where
    opened_sql = "SELECT payload, result FROM agent_interactions" + where
    with psycopg.connect(database_url) as conn:
        row = conn.execute(sql, params).fetchone()
        # Sealed personal fields (docs/audit.md) are scanned as they read once opened too:
        # redaction happens before sealing, so the key must not unlock a secret either.
        with conn.cursor(row_factory=dict_row) as cursor:
            rows = cursor.execute(opened_sql, params).fetchall()
        opened = open_rows(conn, rows, wrapper_from_environment())
    stored = str(row[0]) if row else ""
    return stored + "\n" + "\n".join(json.dumps(r, ensure_ascii=False) for r in opened)


def _opened_audit(database_url: str) -> str:
    """Every audit row with its sealed personal fields opened: sealing hides a leak from the
    raw scan above, not from a reader with the keys. Rows sealed under another wrapping (the
    KMS tests') or erased are left as stored."""
    from insurance_agent.personal_data import open_rows, wrapper_from_environment

    wrapper = wrapper_from_environment()
    opened = []
    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        rows = conn.execute("SELECT payload, result FROM agent_interactions").fetchall()
        for row in rows:
            try:
                opened.extend(open_rows(conn, [row], wrapper))
            except Exception:  # noqa: BLE001 -- unreadable here: scanned as stored instead
                opened.append(row)
    return json.dumps(opened, default=str)


def _opened_trail(database_url: str, conversation_id: str) -> str:
    """The conversation's rows with their sealed personal fields opened (docs/audit.md), as
    `ops trail` shows them: where redaction's markers must be found."""
    from insurance_agent.personal_data import open_rows, wrapper_from_environment

    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        rows = conn.execute(
            "SELECT payload, result FROM agent_interactions WHERE conversation_id = %s",
            (conversation_id,),
        ).fetchall()
        return json.dumps(open_rows(conn, rows, wrapper_from_environment()), default=str)


@pytest.mark.after_all
def test_no_secret_or_seeded_personal_value_in_logs_or_audit(
    app_login, database_url, fresh_reference
):
    seeded = _seeded_customers(database_url)
    conversation = f"conv-leak-{uuid.uuid4().hex[:10]}"
    env = os.environ | {
        "DATABASE_URL": app_login.url,
        "FASTAPI_INSURANCE_BASE_URL": fresh_reference.url,
        "FASTAPI_INSURANCE_API_KEY": fresh_reference.api_key,
        "POWERTOOLS_LOGGER_LOG_EVENT": "true",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "leak-scan",
        "LEAK_CONVERSATION": conversation,
        "LEAK_SEEDED": json.dumps(seeded),
        "PYTHONPATH": str(ROOT),
    }
    run = subprocess.run(
        [sys.executable, "-m", "tests.trust.leak_flows"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert run.returncode == 0, "the flows crashed (output not shown: it may hold secrets)"
    flows_line = next(line for line in run.stdout.splitlines() if line.startswith("FLOWS "))
    flows = json.loads(flows_line.removeprefix("FLOWS "))
    assert flows == {
        "lookup": 200,
        "denied": 404,
        "claim": 201,
        "summary": 200,
        "extra_fields": 422,
        "direct": sorted(flows["direct"]),
        "direct_refused": "ValidationFailed",
        "upstream_down": 502,
        "database_down": 503,
    }
    assert "policy_number" in flows["direct"]

    careless_logs = run.stdout + run.stderr
    suite_logs = "\n".join(CAPTURED.values())
    audit = _audit_text(database_url)
    # The haystacks are real: events were logged, failures were logged, redaction did its work.
    assert '"requestContext"' in careless_logs
    assert '"level":"WARNING"' in careless_logs
    assert "error connecting in 'audit'" in careless_logs
    trail = _opened_trail(database_url, conversation)
    for marker in ("[ssn]", "[email]", "[phone]", "[dob]"):
        assert marker in trail, marker

    needles = {
        "upstream API key": fresh_reference.api_key,
        "database password": app_login.password,
    }
    for i, customer in enumerate(seeded):
        for field, value in customer.items():
            needles[f"seeded {field} of customer {i}"] = value
    haystacks = {
        "careless run's logs": careless_logs,
        "the suite's captured logs": suite_logs,
        "agent_interactions": audit,
        "agent_interactions, opened": _opened_audit(database_url),
    }
    hits = [
        f"{name} in {where}"
        for name, value in needles.items()
        for where, text in haystacks.items()
        if value in text
    ]
    # Names only: the values themselves must not reach the test's output either.
    assert hits == []
