"""Redaction of secrets and personal data before anything is logged or audited."""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

# Keys whose values are never kept, whatever they hold (compared lower-case, '-' as '_').
SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "api_key",
        "apikey",
        "x_api_key",
        "password",
        "secret",
        "token",
        "access_token",
        "id_token",
        "refresh_token",
        "cookie",
        "set_cookie",
        "date_of_birth",
        "dob",
        "ssn",
        "social_security_number",
        "national_id",
        "government_id",
        "passport_number",
        "drivers_license",
        "bank_account",
        "iban",
        "routing_number",
        "card_number",
    }
)

# Shapes of personal data inside free text (descriptions, notes).
_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE), "Bearer " + MASK),
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "[ssn]"),
    (re.compile(r"\b(?:\d[ -]?){13,19}\b"), "[card]"),
    (re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b"), "[iban]"),
    (re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b"), "[email]"),
    (re.compile(r"(?:\+?\d{1,3}[ .-]?)?\(?\b\d{3}\)?[ .-]?\d{3}[ .-]\d{4}\b"), "[phone]"),
)


def redact_text(text: str) -> str:
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any) -> Any:
    """A copy of ``value`` with sensitive keys masked and free text scrubbed."""
    if isinstance(value, dict):
        return {k: (MASK if _is_sensitive(k) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def _is_sensitive(key: object) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in SENSITIVE_KEYS
