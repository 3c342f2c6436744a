"""Redaction of secrets and personal data before anything is logged or audited.

Three rules, applied to every log line (``observability``) and every audit row (``operations``):

- by key: a value under a sensitive key (``SENSITIVE_KEYS``) is replaced whole;
- by pattern: shapes of personal data inside free text (government ids, cards, IBANs, emails,
  phone numbers, dates of birth, bearer tokens, passwords in URLs) are replaced in place;
- by value: the container's own secrets (the upstream API key, the database password) are
  registered when they are read, and replaced wherever they turn up.

Logged Lambda events additionally go through Powertools data masking (``mask_event``), which
erases the event's credential-bearing fields by path.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import warnings
from collections.abc import Iterable
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
        "account_number",
        "tax_id",
        "x_amz_security_token",
        # A customer's profile (the claim summary's policyholder section, upstream's record).
        "full_name",
        "email",
        "phone",
        "address",
        "birth_date",
    }
)
# A UUID (an audit row id a triage decision relied on) is never personal data, and its digit
# groups can read as a card number: kept whole so the ids stay checkable.
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Shapes of personal data inside free text (descriptions, notes), each with an optional guard:
# a cheaper pattern that every match of the shape contains, so text without it is skipped. Most
# audited text (ids, dates, amounts, a summary sentence) holds none of them, and the guards
# halve what redacting a claim summary's audit row costs (the phone shape alone is 40 us on a
# summary sentence, its guard 6 us).
_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str, re.Pattern[str] | None], ...] = (
    (
        re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
        "Bearer " + MASK,
        re.compile("bearer", re.IGNORECASE),
    ),
    # user:password@ in connection strings and URLs.
    (re.compile(r"(?<=://)([^:/@\s]+):[^@\s]+@"), r"\1:" + MASK + "@", re.compile("://")),
    (
        re.compile(
            r"\b(?:dob|d\.o\.b\.?|date[ _-]?of[ _-]?birth|birth[ _-]?date|born(?: on)?)"
            r"[\"']?\s*[:=-]?\s*[\"']?"
            r"(?:\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}"
            r"|\d{1,2} [A-Za-z]{3,9} \d{4}|[A-Za-z]{3,9} \d{1,2},? \d{4})",
            re.IGNORECASE,
        ),
        "[dob]",
        re.compile(r"dob|d\.o\.b|birth|born", re.IGNORECASE),
    ),
    (re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), "[ssn]", None),
    (re.compile(r"\b(?:\d[ -]?){13,19}\b"), "[card]", None),
    (re.compile(r"\b[A-Z]{2}\d{2}[A-Z0-9]{11,30}\b"), "[iban]", None),
    (re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b"), "[email]", re.compile("@")),
    (
        re.compile(r"(?:\+?\d{1,3}[ .-]?)?\(?\b\d{3}\)?[ .-]?\d{3}[ .-]\d{4}\b"),
        "[phone]",
        re.compile(r"\d{3}[ .-]\d{4}"),
    ),
)


# Secrets shorter than this are not registered: masking them would mangle ordinary text.
MIN_SECRET_LENGTH = 8
_secrets: set[str] = set()
_secrets_pattern: re.Pattern[str] | None = None
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask this exact value wherever it appears from now on, in this container."""
    global _secrets_pattern
    if not value or len(value) < MIN_SECRET_LENGTH or value in _secrets:
        return
    with _secrets_lock:
        _secrets.add(value)
        # Longest first, so a secret containing another is masked whole.
        alternatives = sorted(_secrets, key=len, reverse=True)
        _secrets_pattern = re.compile("|".join(re.escape(s) for s in alternatives))


def register_secrets(values: Iterable[str | None]) -> None:
    for value in values:
        register_secret(value)


def redact_text(text: str) -> str:
    if _secrets_pattern is not None:
        text = _secrets_pattern.sub(MASK, text)
    for pattern, replacement, guard in _TEXT_PATTERNS:
        if guard is None or guard.search(text):
            text = pattern.sub(replacement, text)
    return text


def redact(value: Any) -> Any:
    """A copy of ``value`` with sensitive keys masked and free text scrubbed. Anything that is
    not JSON-shaped (an exception in a log line, say) is redacted as its text."""
    if isinstance(value, dict):
        return {k: (MASK if _is_sensitive(k) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return value if _UUID.fullmatch(value) else redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


def _is_sensitive(key: object) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in SENSITIVE_KEYS


# Where a Lambda event carries credentials: API Gateway HTTP API (v2) headers (lower-cased by
# the gateway), cookies, and the verified JWT's claims (which may hold an email or a name).
EVENT_SECRET_PATHS = (
    "$.headers.authorization",
    "$.headers.cookie",
    "$.headers['x-api-key']",
    "$.headers['x-amz-security-token']",
    "$.cookies",
    "$.requestContext.authorizer",
    "$.multiValueHeaders.authorization",
)


def mask_event(event: Any) -> Any:
    """A copy of a Lambda event fit for a log line: credential paths erased by Powertools data
    masking, then the general rules for everything else (bodies, free text)."""
    if not isinstance(event, dict):
        return redact(event)
    from aws_lambda_powertools.utilities.data_masking import DataMasking

    with warnings.catch_warnings():
        # Absent paths are normal (not every event has cookies): not worth a warning each.
        warnings.simplefilter("ignore")
        erased = DataMasking(raise_on_missing_field=False).erase(
            event, fields=list(EVENT_SECRET_PATHS)
        )
    body = erased.get("body")
    if isinstance(body, str) and not erased.get("isBase64Encoded"):
        # A JSON body is redacted as data, so its sensitive keys are masked whole.
        with contextlib.suppress(ValueError):
            erased["body"] = json.dumps(redact(json.loads(body)))
    return redact(erased)
