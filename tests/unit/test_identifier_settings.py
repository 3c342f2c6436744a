"""Identifier formats as settings (models.identifier_pattern): anchored, checked at import."""

from __future__ import annotations

import pytest
from insurance_agent.errors import ConfigurationError
from insurance_agent.models import identifier_pattern, is_customer_id


def test_the_default_applies_when_the_setting_is_unset_or_blank(monkeypatch):
    monkeypatch.delenv("SOME_ID_PATTERN", raising=False)
    assert identifier_pattern("SOME_ID_PATTERN", "^A[0-9]$") == "^A[0-9]$"
    monkeypatch.setenv("SOME_ID_PATTERN", "  ")
    assert identifier_pattern("SOME_ID_PATTERN", "^A[0-9]$") == "^A[0-9]$"


def test_an_unanchored_pattern_is_anchored_whole(monkeypatch):
    monkeypatch.setenv("SOME_ID_PATTERN", "P[0-9]{8}|Q[0-9]{2}")
    assert identifier_pattern("SOME_ID_PATTERN", "^x$") == "^(?:P[0-9]{8}|Q[0-9]{2})$"


@pytest.mark.parametrize("pattern", ["^P[0-9{8}$", "(?<=a)b", "^P[0-9]{8$"])
def test_a_pattern_pydantic_cannot_run_names_the_setting(monkeypatch, pattern):
    monkeypatch.setenv("SOME_ID_PATTERN", pattern)
    with pytest.raises(ConfigurationError, match="SOME_ID_PATTERN"):
        identifier_pattern("SOME_ID_PATTERN", "^x$")


def test_a_customer_id_follows_the_pattern_and_the_safe_characters():
    assert is_customer_id("cust-7788")
    assert not is_customer_id("cust-7788/../x")
    assert not is_customer_id("C007788")  # another numbering: not with today's setting
    assert not is_customer_id(7788)
