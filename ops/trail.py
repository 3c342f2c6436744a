"""Read the audit trail: a conversation's interactions, or a customer's history.

The text form is for a person at a terminal, and everything in it that a caller wrote (a claim
description, a refused path) is escaped: a newline would forge a whole trail line, a CR or a
bidi override hide text, an ESC sequence run in the operator's terminal. Times are UTC whatever
the session's TimeZone. ``--json`` keeps the stored values as they are (JSON escapes them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
from insurance_agent.personal_data import open_rows, wrapper_from_environment
from psycopg.rows import dict_row

COLUMNS = (
    "id, created_at, conversation_id, customer_id, intent, outcome, error_code, payload, "
    "result, request_id, function_name, channel, principal, idempotency_key, duration_ms, "
    "intent_id"
)


def fetch(
    database_url: str,
    *,
    conversation_id: str | None = None,
    customer_id: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    if (conversation_id is None) == (customer_id is None):
        raise ValueError("give exactly one of conversation_id, customer_id")
    column = "conversation_id" if conversation_id is not None else "customer_id"
    value = conversation_id if conversation_id is not None else customer_id
    sql = (
        f"SELECT {COLUMNS} FROM agent_interactions WHERE {column} = %s "
        "ORDER BY created_at, id LIMIT %s"
    )
    # Rows come back in the session's TimeZone (PGTZ, the role's setting): _utc() turns them
    # to UTC here rather than a startup option, which PgBouncer would refuse.
    with psycopg.connect(database_url, row_factory=dict_row, prepare_threshold=None) as conn:
        rows = conn.execute(sql, (value, limit)).fetchall()
        # Personal fields are sealed per customer; an erased customer's read "[erased]".
        return open_rows(conn, rows, wrapper_from_environment())


_NAMED_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(text: str) -> str:
    """``text`` with every character a terminal would not print as itself spelled out: C0 and
    C1 controls, DEL, bidi controls (U+202E), zero-width and other format characters, line
    and paragraph separators, unusual spaces. A backslash is doubled so an escape cannot be
    forged by writing one."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(_escape_char(c) for c in text)


def _escape_char(c: str) -> str:
    if c in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[c]
    if c.isprintable():
        return c
    code = ord(c)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo is not None else value


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if value is not None and not isinstance(value, str | int | float | bool | dict | list):
        return str(value)
    return value


def as_json_lines(rows: Iterable[dict[str, Any]]) -> Iterable[str]:
    for row in rows:
        yield json.dumps({k: _plain(v) for k, v in row.items()}, sort_keys=True)


def _what_was_answered(row: dict[str, Any]) -> str:
    result = row.get("result") or {}
    if row["outcome"] == "pending":
        return "intent recorded, filing upstream"
    if "error" in result:
        return f"{result['error'].get('code')}: {result['error'].get('message')}"
    for key in ("claim_id", "status", "policy_status"):
        if key in result:
            extra = (
                f" status={result['status']}" if key == "claim_id" and "status" in result else ""
            )
            if result.get("idempotent_replay"):
                extra += " (replayed: the key's first answer, nothing filed)"
            return f"{key}={result[key]}{extra}"
    return ""


def _asked(payload: dict[str, Any] | None) -> str:
    parts = []
    for key, value in sorted((payload or {}).items()):
        if value is None:
            continue  # an optional field the caller left out, not a value "None"
        if isinstance(value, dict) and set(value) == {"amount", "currency"}:
            parts.append(f"{key}={value['amount']} {value['currency']}")
        elif not isinstance(value, dict | list):
            parts.append(f"{key}={value}")
    return ", ".join(parts)


def as_text(rows: list[dict[str, Any]]) -> Iterable[str]:
    if not rows:
        yield "(no interactions)"
        return
    for row in rows:
        line = (
            f"{_utc(row['created_at']):%Y-%m-%d %H:%M:%S.%f}Z  {row['intent']:<13} "
            f"{row['outcome']:<7} {row['channel']:<7} conv={row['conversation_id'] or '-'} "
            f"cust={row['customer_id'] or '-'} by={row['principal'] or '-'}  "
            f"asked: {_asked(row['payload']) or '-'}  "
            f"answered: {_what_was_answered(row)}  request={row['request_id']}"
            + (f"  completes={row['intent_id']}" if row["intent_id"] else "")
        )
        yield escape(line)
    yield f"({len(rows)} interaction{'s' if len(rows) != 1 else ''})"
