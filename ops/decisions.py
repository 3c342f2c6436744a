"""The compliance questions about triage decisions (audit rows of intent triage_decision).

    python -m ops decisions --claim CLM-001000 [--json]
        every decision recorded on a claim, and the audit rows each one relied on
    python -m ops fast-tracked --above 5000.00 [--currency USD] [--json]
        every fast-track decision on a claim whose amount claimed is above the amount

A decision's claim amount is read from the trail itself: the claim's filing (claim_create)
or, failing that, a summary of the claim (claim_summary), for the decision's customer.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import psycopg
from psycopg.rows import dict_row

from ops.trail import _plain

DECISIONS_ON_CLAIM = """
SELECT id, created_at, customer_id, conversation_id, channel, principal, payload
FROM agent_interactions
WHERE intent = 'triage_decision' AND outcome = 'ok' AND payload ->> 'claim_id' = %(claim_id)s
ORDER BY created_at, id
"""

ROWS_BY_ID = """
SELECT id, created_at, customer_id, conversation_id, intent, outcome, channel, error_code
FROM agent_interactions WHERE id = ANY(%(ids)s::uuid[])
"""

FAST_TRACKED = """
SELECT d.id, d.created_at, d.customer_id, d.payload, amount.amount, amount.currency
FROM agent_interactions d
JOIN LATERAL (
    SELECT (a.result -> 'amount_claimed' ->> 'amount')::numeric AS amount,
           a.result -> 'amount_claimed' ->> 'currency' AS currency, 0 AS rank, a.created_at
    FROM agent_interactions a
    WHERE a.intent = 'claim_create' AND a.outcome = 'ok'
      AND a.customer_id = d.customer_id AND a.result ->> 'claim_id' = d.payload ->> 'claim_id'
    UNION ALL
    SELECT (a.result -> 'claim' -> 'amount_claimed' ->> 'amount')::numeric,
           a.result -> 'claim' -> 'amount_claimed' ->> 'currency', 1, a.created_at
    FROM agent_interactions a
    WHERE a.intent = 'claim_summary' AND a.outcome = 'ok'
      AND a.customer_id = d.customer_id
      AND a.result -> 'claim' ->> 'claim_id' = d.payload ->> 'claim_id'
    ORDER BY rank, created_at
    LIMIT 1
) amount ON true
WHERE d.intent = 'triage_decision' AND d.outcome = 'ok'
  AND d.payload ->> 'decision' = 'fast_track'
  AND amount.amount > %(above)s
  AND (%(currency)s::text IS NULL OR amount.currency = %(currency)s::text)
ORDER BY d.created_at, d.id
"""


def _connect(database_url: str) -> psycopg.Connection[dict[str, Any]]:
    return psycopg.connect(database_url, row_factory=dict_row, prepare_threshold=None)


def decisions_on_claim(database_url: str, claim_id: str) -> list[dict[str, Any]]:
    """Every decision on the claim, each with ``relied_on_rows`` (the cited rows, in the
    order cited; a cited id the trail does not hold shows as ``{"id": ..., "missing": True}``)."""
    with _connect(database_url) as conn:
        decisions = conn.execute(DECISIONS_ON_CLAIM, {"claim_id": claim_id}).fetchall()
        cited = [i for d in decisions for i in d["payload"].get("relied_on", [])]
        found = {
            str(row["id"]): row
            for row in conn.execute(ROWS_BY_ID, {"ids": list(dict.fromkeys(cited))}).fetchall()
        }
    for decision in decisions:
        decision["relied_on_rows"] = [
            found.get(i, {"id": i, "missing": True})
            for i in decision["payload"].get("relied_on", [])
        ]
    return decisions


def fast_tracked(
    database_url: str, above: Decimal, currency: str | None = None
) -> list[dict[str, Any]]:
    with _connect(database_url) as conn:
        return conn.execute(FAST_TRACKED, {"above": above, "currency": currency}).fetchall()


def _json_lines(rows: Iterable[dict[str, Any]]) -> Iterable[str]:
    for row in rows:
        yield json.dumps(_deep_plain(row), sort_keys=True)


def _deep_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_plain(v) for v in value]
    return _plain(value)


def _decision_line(row: dict[str, Any]) -> str:
    p = row["payload"]
    return (
        f"{row['created_at'].isoformat()} decision {row['id']}: {p.get('decision')} on "
        f"{p.get('claim_id')} (policy {p.get('policy_number')}, customer {row['customer_id']}) "
        f"by {p.get('decided_by')}, confidence {p.get('confidence')}"
    )


def decisions_text(claim_id: str, rows: list[dict[str, Any]]) -> Iterable[str]:
    if not rows:
        yield f"(no decisions recorded on {claim_id})"
        return
    for row in rows:
        yield _decision_line(row)
        for reason in row["payload"].get("reasons", []):
            yield f"    reason: {reason}"
        for cited in row["relied_on_rows"]:
            if cited.get("missing"):
                yield f"    relied on {cited['id']}: NOT IN THE TRAIL"
                continue
            yield (
                f"    relied on {cited['id']}: {cited['intent']} {cited['outcome']}"
                f"{' ' + cited['error_code'] if cited['error_code'] else ''} via "
                f"{cited['channel']} at {cited['created_at'].isoformat()}"
                f" (conversation {cited['conversation_id']})"
            )


def fast_tracked_text(rows: list[dict[str, Any]]) -> Iterable[str]:
    if not rows:
        yield "(no fast-tracked claims above that amount)"
        return
    for row in rows:
        yield f"{_decision_line(row)}; claimed {row['amount']:.2f} {row['currency']}"


def add_commands(sub: Any) -> None:
    decisions = sub.add_parser("decisions", help="every triage decision on a claim")
    decisions.add_argument("--claim", required=True)
    fast = sub.add_parser("fast-tracked", help="fast-tracked claims above an amount")
    fast.add_argument("--above", required=True, type=_amount)
    fast.add_argument("--currency", help="ISO 4217 code, e.g. USD (default: any)")
    for parser in (decisions, fast):
        parser.add_argument("--json", action="store_true", help="one JSON object per line")


def run(args: argparse.Namespace, database_url: str) -> Iterable[str]:
    if args.command == "decisions":
        rows = decisions_on_claim(database_url, args.claim)
        return _json_lines(rows) if args.json else decisions_text(args.claim, rows)
    fast = fast_tracked(database_url, args.above, args.currency)
    return _json_lines(fast) if args.json else fast_tracked_text(fast)


def _amount(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount: {text}") from None
