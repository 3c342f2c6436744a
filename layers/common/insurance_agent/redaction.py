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
import functools
import json
import re
import threading
import warnings
from collections.abc import Callable, Iterable
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
# halve what redacting a claim summary's audit row costs.
#
# Shapes, not valid numbers: a mistyped card number (the review's 4111.1111.1111.1112 fails
# Luhn) or an unallocated phone number is still a person's data once written down, and the audit
# is append-only. So no checksum (python-stdnum) and no numbering-plan check (phonenumbers):
# they would trade misses for precision, and phonenumbers costs 113 ms of import and 85-700 us a
# text (measured on tests/unit/redaction_corpus.py; docs/trust.md has the figures).
# The names of secrets, not one.
_SECRET_KEYWORDS = "|".join(
    (
        r"client[_-]?secret|secret[_-]?key|access[_-]?key|api[_-]?key|apikey|access[_-]?token",
        r"refresh[_-]?token|id[_-]?token|password|passwd|passphrase|pwd|secret|token",
    )
)
_DATE = (
    r"(?:\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}"
    r"|\d{1,2}(?:st|nd|rd|th)?(?: of)? [A-Za-z]{3,9},? \d{4}"
    r"|[A-Za-z]{3,9} \d{1,2}(?:st|nd|rd|th)?,? \d{4})"
)
# Numbers people write (cards, SSNs, phones) against numbers our own records hold (policy and
# claim numbers, customer ids, UUIDs, ISO dates and times, amounts): one pattern, scanned left
# to right, whose first alternatives are the look-alikes, kept as they are. A digit run that
# belongs to one of them is never read as a card or a phone number.
_NUMBERS = re.compile(
    r"(?P<keep>"
    r"\b(?:POL|CLM|cust)-[0-9A-Za-z]+"
    r"|\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
    r"|\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"(?![\d.-])"
    r"|\b\d{1,3}(?:,\d{3})+(?:\.\d{2})?(?!\.?\d)|\b\d+\.\d{2}(?!\.?\d)"
    r")"
    # 13-19 digits, single spaces, dots or dashes between any of them.
    r"|(?P<card>(?<![\w.-])\d(?:[ .-]?\d){12,18}(?![\w]|[.-]\d))"
    # +country code and 7-14 more digits, grouped any way.
    r"|(?P<intl>\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){1,6}(?![\w]|[.-]\d))"
    # North American: 415 555 0178, (415) 555-0178, 4155550178, 1-415-555-0178.
    r"|(?P<nanp>(?<![\w.+-])(?:1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-]?)\d{3}[ .-]?\d{4}(?![\w]|[.-]\d))"
    # US SSN: 3-2-4 with one separator used throughout, or none.
    r"|(?P<ssn>(?<![\w.-])\d{3}(?P<sep>[ .-]?)\d{2}(?P=sep)\d{4}(?![\w]|[.-]\d))"
    # A national number with its trunk 0: 020 7946 0958, 030 12345679.
    r"|(?P<trunk>(?<![\w.-])0\d{2,4}[ .-]?\d{3,4}[ .-]?\d{3,4}(?![\w]|[.-]\d))"
)
_NUMBER_MARKERS = {"card": "[card]", "intl": "[phone]", "nanp": "[phone]", "ssn": "[ssn]"}
_NUMBER_MARKERS["trunk"] = "[phone]"


def _number(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind is None or kind == "keep":
        return match.group()
    if kind == "intl" and not 8 <= sum(c.isdigit() for c in match.group()) <= 15:
        return match.group()  # E.164 numbers have 8 to 15 digits with the country code
    return _NUMBER_MARKERS[kind]


Replacement = str | Callable[[re.Match[str]], str]

_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], Replacement, re.Pattern[str] | None], ...] = (
    (
        re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
        "Bearer " + MASK,
        re.compile("bearer", re.IGNORECASE),
    ),
    # A JWT without its scheme: header.payload.signature, the first two base64url JSON objects.
    (
        re.compile(r"\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*"),
        "[jwt]",
        re.compile("eyJ"),
    ),
    # user:password@ in connection strings and URLs.
    (re.compile(r"(?<=://)([^:/@\s]+):[^@\s]+@"), r"\1:" + MASK + "@", re.compile("://")),
    # password=..., "api_key": "...", pwd: ... -- a secret's name, then its value.
    (
        re.compile(rf"\b({_SECRET_KEYWORDS})([\"']?\s*[:=]\s*[\"']?)[^\s\"',;]+", re.IGNORECASE),
        r"\1\2" + MASK,
        re.compile(r"[:=]"),
    ),
    # AWS access key ids.
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), "[aws-key]", re.compile("AKIA|ASIA")),
    (
        re.compile(
            r"\b(?:dob|d\.o\.b\.?|date[ _-]?of[ _-]?birth|birth[ _-]?date|birthday|b-?day"
            r"|born(?: on)?)"
            r"[\"']?\s*[:=-]?\s*[\"']?(?:(?:is|was|on)\s+)?" + _DATE,
            re.IGNORECASE,
        ),
        "[dob]",
        re.compile(r"dob|d\.o\.b|birth|b-?day|born", re.IGNORECASE),
    ),
    (re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b"), "[email]", re.compile("@")),
    # name (at) example (dot) org, [at]/{at} too: an address spelled out to dodge scrapers.
    (
        re.compile(
            r"[\w.+-]+\s*[(\[{]\s*at\s*[)\]}]\s*[\w-]+(?:\s*[(\[{]\s*dot\s*[)\]}]\s*[\w-]+)+",
            re.IGNORECASE,
        ),
        "[email]",
        re.compile(r"[(\[{]\s*at\s*[)\]}]", re.IGNORECASE),
    ),
    (
        re.compile(
            r"\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)\b"
        ),
        "[iban]",
        # Every IBAN starts with its country's two capitals and two check digits.
        re.compile(r"[A-Z]{2}\d{2}"),
    ),
    # Every number the pattern replaces has two digits at most three characters apart.
    (_NUMBERS, _number, re.compile(r"\d\D{0,3}\d")),
)
# Any guard at all, in one search: most free text an audit row holds (a coverage's name, a
# loss description) contains none, and one search instead of ten halves what redacting a
# policy costs.
_ANY_GUARD = re.compile(
    "|".join(
        f"(?i:{guard.pattern})" if guard.flags & re.IGNORECASE else f"(?:{guard.pattern})"
        for _, _, guard in _TEXT_PATTERNS
        if guard is not None
    )
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


# Values an audit row holds by the dozen that no shape can change: amounts, ISO dates and
# times, policy and claim numbers, customer ids, enum words, currency codes. Skipping them
# keeps redacting a claim summary row near its old cost with the fuller shapes above.
_INERT = re.compile(
    r"-?\d{1,13}\.\d{2}"
    r"|\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2}))?"
    r"|(?:POL|cust|CLM)-\d{1,26}|[a-z][a-z_]{0,39}|[A-Z]{3}"
)


def redact_text(text: str) -> str:
    if _secrets_pattern is not None:
        text = _secrets_pattern.sub(MASK, text)
    if _INERT.fullmatch(text) or not _ANY_GUARD.search(text):
        return text
    for pattern, replacement, guard in _TEXT_PATTERNS:
        if guard is None or guard.search(text):
            text = pattern.sub(replacement, text)
    return text


def redact(value: Any) -> Any:
    """A copy of ``value`` with sensitive keys masked and free text scrubbed. Anything that is
    not JSON-shaped (an exception in a log line, say) is redacted as its text."""
    # Strings first: an audit row is mostly strings (amounts and dates in JSON mode included).
    if isinstance(value, str):
        return value if _UUID.fullmatch(value) else redact_text(value)
    if isinstance(value, dict):
        return {k: (MASK if _is_sensitive(k) else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


def _is_sensitive(key: object) -> bool:
    return isinstance(key, str) and _sensitive_name(key)


# Rows and log lines repeat the same few dozen keys: each is normalised once per container.
@functools.lru_cache(maxsize=1024)
def _sensitive_name(key: str) -> bool:
    return key.lower().replace("-", "_") in SENSITIVE_KEYS


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


# A header named like a credential is one, whatever the spelling a client or proxy chose
# (x-auth-token, x-upstream-secret, proxy-authorization, x-session-id, x-amz-signature): masked
# by name, since an opaque token has no shape to find.
_CREDENTIAL_HEADER = re.compile(
    r"auth|token|secret|passw|api[_-]?key|cookie|session|credential|signature|private",
    re.IGNORECASE,
)


def _is_credential_header(name: object) -> bool:
    return isinstance(name, str) and bool(_CREDENTIAL_HEADER.search(name))


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
    headers = erased.get("headers")
    if isinstance(headers, dict):
        erased["headers"] = {
            name: MASK if _is_credential_header(name) else value for name, value in headers.items()
        }
    body = erased.get("body")
    if isinstance(body, str) and not erased.get("isBase64Encoded"):
        # A JSON body is redacted as data, so its sensitive keys are masked whole.
        with contextlib.suppress(ValueError):
            erased["body"] = json.dumps(redact(json.loads(body)))
    return redact(erased)
