"""The operator's text trail (ops/trail.py): escaped, UTC, the amount shown, no "None"."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from insurance_agent.models import ClaimRequest

from ops.trail import as_json_lines, as_text, escape

NEW_YORK = ZoneInfo("America/New_York")


def _row(**overrides):
    row = {
        "id": 1,
        "created_at": datetime(2026, 11, 25, 16, 35, 26, 123456, tzinfo=NEW_YORK),
        "conversation_id": "conv-1",
        "customer_id": "cust-7788",
        "intent": "claim_create",
        "outcome": "ok",
        "error_code": None,
        "payload": {
            "policy_number": "POL-10001",
            "description": "dent",
            "amount_claimed": {"amount": "1800.00", "currency": "USD"},
            "loss_location": None,
        },
        "result": {"claim_id": "CLM-000123", "status": "submitted"},
        "request_id": "r-1",
        "function_name": "ClaimCreateFunction",
        "channel": "http",
        "principal": "agent:test-agent",
        "idempotency_key": "k-12345678",
        "duration_ms": 3.0,
        "intent_id": None,
    }
    row.update(overrides)
    return row


def test_times_are_utc_whatever_the_session_time_zone():
    (line, _) = as_text([_row()])
    assert line.startswith("2026-11-25 21:35:26.123456Z")  # 16:35 in New York is 21:35 UTC


def test_the_claimed_amount_is_shown_and_absent_fields_are_not():
    (line, _) = as_text([_row()])
    assert "amount_claimed=1800.00 USD" in line
    assert "None" not in line
    assert "loss_location" not in line
    assert "by=agent:test-agent" in line


FORGERIES = [
    "dent\n2026-11-25 21:35:26.000000Z  claim_create  ok      http    conv=conv-1 forged",
    "dent\rpaid in full",
    "\x1b[2J\x1b[Hcleared",
    "\x9b2Jc1 csi",
    "\x85next line",
    "paid \u202e00.0001",
    "zero\u200bwidth\u2060joiner\ufeff",
    "line\u2028sep\u2029para",
    "no\xa0break",
    "tab\there",
    "del\x7f",
]


@pytest.mark.parametrize("text", FORGERIES)
def test_every_character_a_terminal_would_act_on_is_escaped(text):
    lines = list(as_text([_row(payload={"description": text})]))

    assert len(lines) == 2  # one row, one count: nothing forges a line
    assert lines[0].isprintable()
    assert lines[0].isascii() or all(c.isprintable() for c in lines[0])


def test_escapes_are_readable_and_cannot_be_forged():
    assert escape("a\nb") == "a\\nb"
    assert escape("\x1b[2J") == "\\x1b[2J"
    assert escape("\u202e") == "\\u202e"
    assert escape("\U000e0001") == "\\U000e0001"  # a tag character
    # A caller writing a backslash-n by hand is shown as such, not as an escaped newline.
    assert escape("a\\nb") == "a\\\\nb"
    assert escape("Zürich, 東京 🚗") == "Zürich, 東京 🚗"  # printable text is left alone


def test_json_lines_keep_the_stored_text():
    text = "dent\n\u202e\x1b"
    (line,) = as_json_lines([_row(payload={"description": text})])
    record = json.loads(line)
    assert record["payload"]["description"] == text
    assert record["created_at"] == "2026-11-25T21:35:26.123456+00:00"


@pytest.mark.parametrize("text", ["csi \x9b2J", "nel\x85x", "\u202eevil", "\u2066iso", "\u2069"])
def test_free_text_refuses_c1_controls_and_bidi_overrides(text):
    with pytest.raises(ValueError, match="control characters"):
        ClaimRequest.model_validate(
            {
                "policy_number": "POL-10001",
                "loss_date": "2026-11-01",
                "loss_type": "collision",
                "description": text,
                "amount_claimed": {"amount": "1.00", "currency": "USD"},
            }
        )


@pytest.mark.parametrize("text", ["עברית\u200f text", "👨\u200d👩\u200d👧", "line\nbreak\ttab"])
def test_free_text_keeps_what_scripts_and_people_need(text):
    claim = ClaimRequest.model_validate(
        {
            "policy_number": "POL-10001",
            "loss_date": "2026-11-01",
            "loss_type": "collision",
            "description": text,
            "amount_claimed": {"amount": "1.00", "currency": "USD"},
        }
    )
    assert claim.description == text.strip()
