"""The redaction corpus (tests/unit/redaction_corpus.py): every personal value or secret in it
is gone after redaction, every look-alike from our own records is left exactly as it was."""

from __future__ import annotations

import pytest
from insurance_agent.redaction import redact, redact_text

from tests.unit.redaction_corpus import KEEPS, LEAKS, false_positives, misses


def test_no_misses_on_the_corpus():
    assert misses(redact_text) == []


def test_no_false_positives_on_the_corpus():
    assert false_positives(redact_text) == []


@pytest.mark.parametrize(("text", "secret"), LEAKS)
def test_each_leak_is_masked_inside_an_audit_payload(text, secret):
    """What the audit row stores is redact(payload): free text at any depth is scrubbed."""
    payload = {"description": text, "nested": [{"note": f"see above: {text}"}]}
    assert secret not in str(redact(payload))


@pytest.mark.parametrize("text", KEEPS)
def test_each_look_alike_survives_inside_an_audit_payload(text):
    payload = {"description": text, "amount_claimed": {"amount": "1250.00", "currency": "USD"}}
    assert redact(payload) == payload
