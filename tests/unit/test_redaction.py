"""Redaction rules, one by one: what is masked, and what must survive (dates of loss, money)."""

from __future__ import annotations

import io
import json
import secrets

import pytest
from aws_lambda_powertools import Logger
from hypothesis import given, settings
from hypothesis import strategies as st
from insurance_agent.observability import RedactingFilter, RedactingFormatter
from insurance_agent.redaction import (
    _TEXT_PATTERNS,
    MASK,
    mask_event,
    redact,
    redact_text,
    register_secret,
)


@pytest.mark.parametrize(
    ("text", "leaked", "marker"),
    [
        ("my ssn is 078-05-1120", "078-05-1120", "[ssn]"),
        ("card 4111 1111 1111 1111 please", "4111 1111 1111 1111", "[card]"),
        ("pay to GB82WEST12345698765432", "GB82WEST12345698765432", "[iban]"),
        ("write to pat.doe@example.org", "pat.doe@example.org", "[email]"),
        ("call +1 312 555 0187 after six", "312 555 0187", "[phone]"),
        ("DOB: 07/04/1990", "07/04/1990", "[dob]"),
        ("born on 1990-07-04 in Ohio", "1990-07-04", "[dob]"),
        ("date of birth 4 July 1990", "4 July 1990", "[dob]"),
        ("Authorization: Bearer eyJhbGciOi.abc.def", "eyJhbGciOi.abc.def", "Bearer ***"),
        ("postgresql://app:s3cr3t-pw@db:5432/x", "s3cr3t-pw", "app:***@"),
    ],
)
def test_free_text_patterns(text, leaked, marker):
    scrubbed = redact_text(text)
    assert leaked not in scrubbed
    assert marker in scrubbed


def test_sensitive_keys_are_masked_whole_at_any_depth_whatever_their_spelling():
    data = {
        "Authorization": "Bearer x",
        "nested": [{"X-Api-Key": "k1", "date_of_birth": "1990-07-04", "IBAN": "GB82"}],
        "password": {"even": "a dict"},
    }
    assert redact(data) == {
        "Authorization": MASK,
        "nested": [{"X-Api-Key": MASK, "date_of_birth": MASK, "IBAN": MASK}],
        "password": MASK,
    }


def test_claim_facts_survive_redaction():
    claim = {
        "policy_number": "POL-10001",
        "loss_date": "2026-11-20",
        "amount_claimed": {"amount": "1800.00", "currency": "USD"},
        "claim_id": "CLM-01J8ZK3QW5",
        "description": "Rear-ended at a light on 2026-11-20; bumper and tail light.",
    }
    assert redact(claim) == claim


def test_a_registered_secret_is_masked_wherever_it_appears():
    secret = "sk-" + secrets.token_urlsafe(16)
    register_secret(secret)
    assert redact({"note": f"upstream said: bad key {secret}!"}) == {
        "note": f"upstream said: bad key {MASK}!"
    }


def test_short_values_are_not_registered_as_secrets():
    register_secret("abc")
    assert redact_text("abc def") == "abc def"


def test_mask_event_erases_credentials_by_path_and_keeps_the_rest():
    event = {
        "headers": {"authorization": "Bearer tok.en.x", "x-api-key": "key-123456789"},
        "cookies": ["session=abcdef"],
        "requestContext": {
            "requestId": "r-1",
            "authorizer": {"jwt": {"claims": {"email": "a@b.example"}}},
        },
        "body": '{"description": "ssn 078-05-1120"}',
    }
    masked = json.dumps(mask_event(event))
    for leaked in ("tok.en.x", "key-123456789", "session=abcdef", "a@b.example", "078-05-1120"):
        assert leaked not in masked
    assert '"requestId": "r-1"' in masked
    assert event["headers"]["authorization"] == "Bearer tok.en.x"  # the caller's copy untouched


def test_log_lines_are_redacted_whatever_the_caller_logs():
    stream = io.StringIO()
    log = Logger(
        service=f"redaction-test-{secrets.token_hex(3)}",
        logger_formatter=RedactingFormatter(),
        stream=stream,
    )
    log.addFilter(RedactingFilter())
    log.info("calling upstream", extra={"headers": {"Authorization": "Bearer abc.def.ghi"}})
    log.info({"event": {"body": "my ssn is 078-05-1120"}})
    try:
        raise RuntimeError("connect to postgresql://app:hunter2-pw@db/x failed")
    except RuntimeError:
        log.exception("boom")

    out = stream.getvalue()
    assert len(out.splitlines()) == 3
    for leaked in ("abc.def.ghi", "078-05-1120", "hunter2-pw"):
        assert leaked not in out
    assert all(
        json.loads(line)["service"].startswith("redaction-test") for line in out.splitlines()
    )


def test_records_reaching_other_handlers_are_redacted_too(caplog):
    from insurance_agent.observability import logger

    with caplog.at_level("INFO"):
        logger.info("retrying with %s", "Bearer abc.def.ghi")
        try:
            raise RuntimeError("ssn 078-05-1120 rejected")
        except RuntimeError:
            logger.exception("upstream refused")

    assert "abc.def.ghi" not in caplog.text
    assert "078-05-1120" not in caplog.text
    assert "Bearer ***" in caplog.text
    assert "[ssn]" in caplog.text  # the traceback is there, scrubbed


def test_a_logged_json_body_is_redacted_as_data():
    event = {"body": json.dumps({"date_of_birth": "1990-07-04", "note": '"dob": "07/04/1990"'})}
    body = json.loads(mask_event(event)["body"])
    assert body == {"date_of_birth": MASK, "note": '"[dob]"'}


_FRAGMENTS = st.sampled_from(
    [
        "Bearer abc.DEF-123",
        "bEaReR x",
        "postgresql://u:pw@h/db",
        "://",
        "DOB: 1990-01-31",
        "born on 3 March 1990",
        "d.o.b. 01/02/1990",
        "date of birth",
        "b\u0131rth",  # dotless i: IGNORECASE matches it to i
        "078-05-1120",
        "4111 1111 1111 1111",
        "GB82WEST12345698765432",
        "a.b+c@example.org",
        "@",
        "+1 (555) 123-4567",
        "555.123.4567",
        "123 4567",
        "POL-10001",
        "2026-11-25",
        "1,250.00",
        "1800.00",
        "2026-11-25T21:35:26Z",
        "cust-321549877",
        "CLM-000102",
        "collision",
        "USD",
        "00000000-0000-4000-8000-000000000000",
        "eyJ",
        "eyJhbGciOi.eyJzdWIi.sig",
        "(at)",
        " [dot] ",
        "password=",
        "pwd: ",
        "AKIAIOSFODNN7EXAMPLE",
        "+33 1 42 68 53 00",
        "+",
        "(415) ",
        "4155550178",
        "321 54 9876",
        "birthday ",
        "14 March 1984",
        "0",
        "7",
        " ",
        "-",
        ".",
        ":",
        "\n",
        "é",
        "\u017f",  # long s
        "\u212a",  # Kelvin sign
    ]
)


@settings(max_examples=300, derandomize=True)
@given(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=6)), max_size=8).map("".join))
def test_the_guards_never_change_what_is_redacted(text):
    """Each shape's guard only skips text the shape cannot match: the answer is the one every
    shape applied in turn, unguarded, gives."""
    expected = text
    for pattern, replacement, _ in _TEXT_PATTERNS:
        expected = pattern.sub(replacement, expected)

    assert redact_text(text) == expected
