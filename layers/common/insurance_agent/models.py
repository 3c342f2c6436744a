"""The contract: pydantic v2 models for what agents send, what they get, and what upstream says.

IDs are validated here, at the edge, by pattern. Money is ``Decimal`` with an ISO 4217 code and
serialises as a string so no float ever touches an amount. Times are timezone-aware UTC.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from insurance_agent.redaction import redact_text


def _in_words(format_: str) -> WrapValidator:
    """A refused identifier's message says the accepted format in words: a regular expression is
    no hint to a person. The pattern stays the check (and stays in the published schemas)."""

    def explain(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            if any(e["type"] == "string_pattern_mismatch" for e in exc.errors()):
                raise PydanticCustomError("string_pattern_mismatch", format_) from None
            raise

    return WrapValidator(explain)


def _opaque(value: str) -> str:
    """Refuse an id that the redaction would alter: a phone, card or social security number,
    an e-mail or a token chosen as a conversation id or an idempotency key. These ids are
    stored in clear, indexed and chained on (the trail is looked up by them), so they cannot
    be masked afterwards; the caller is asked for an opaque id instead."""
    if redact_text(value) != value:
        raise ValueError(
            "looks like personal data (a phone, card or social security number, an e-mail): "
            "use an opaque id such as a UUID"
        )
    return value


PolicyNumber = Annotated[
    str,
    StringConstraints(pattern=r"^POL-[0-9]{5,10}$"),
    _in_words("policy numbers look like POL-10001 (POL- and 5 to 10 digits)"),
]
ClaimId = Annotated[
    str,
    StringConstraints(pattern=r"^CLM-[0-9A-Z]{6,26}$"),
    _in_words("claim ids look like CLM-000102 (CLM- and 6 to 26 digits or capital letters)"),
]
# Shared with principal.py, which checks a token's customer_id claim against the same rule.
CUSTOMER_ID_PATTERN = r"^cust-[0-9]{1,12}$"
CustomerId = Annotated[
    str,
    StringConstraints(pattern=CUSTOMER_ID_PATTERN),
    _in_words("customer ids look like cust-7788 (cust- and 1 to 12 digits)"),
]
ConversationId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"),
    _in_words(
        "conversation ids look like conv-001: 1 to 128 letters, digits, '_', '.', ':' or '-',"
        " starting with a letter or digit"
    ),
    AfterValidator(_opaque),
]
IdempotencyKey = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{7,127}$"),
    _in_words(
        "idempotency keys look like claim-2026-0001 or a UUID: 8 to 128 letters, digits, '_',"
        " '.', ':' or '-', starting with a letter or digit"
    ),
    AfterValidator(_opaque),
]
CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    _in_words("currency codes are 3 capital letters (ISO 4217, e.g. USD)"),
]
Peril = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z_]{1,39}$"),
    _in_words("perils look like collision or water_damage (2 to 40 lowercase letters or '_')"),
]
# Money as text: ASCII digits, at most two decimal places, no exponent, no separators. Python's
# Decimal also reads "1.25e3", "1_000" and other scripts' digits; such a value would travel on
# (to the audit row, to upstream) spelt that way, so it is refused here and named.
AMOUNT_TEXT = re.compile(r"^-?[0-9]{1,13}(\.[0-9]{1,2})?$")
CENT = Decimal("0.01")


def _amount_text(value: Any) -> Any:
    if isinstance(value, str) and not AMOUNT_TEXT.fullmatch(value.strip()):
        raise ValueError("must be a decimal amount such as 1250.00: digits, at most two decimals")
    return value


# Two decimal places, at most a trillion: enough for any single claim or limit. Always held
# (and so sent, stored and answered) with exactly two decimals.
Amount = Annotated[
    Decimal,
    BeforeValidator(_amount_text),
    Field(max_digits=15, decimal_places=2, allow_inf_nan=False),
    AfterValidator(lambda amount: amount.quantize(CENT)),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": AMOUNT_TEXT.pattern},
                {"type": "number"},
            ]
        },
        mode="validation",
    ),
    WithJsonSchema(
        {"type": "string", "pattern": r"^-?[0-9]{1,13}\.[0-9]{2}$"},
        mode="serialization",
    ),
]

# Control characters other than tab and line breaks have no place in what a person writes, and
# a NUL cannot be stored in Postgres text at all (upstream's or the audit's). C1 controls
# (U+0080-U+009F, e.g. U+009B, a one-byte CSI) drive terminals like ESC does, and the bidi
# embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) make text read otherwise
# than it is stored (a claim description shown to an adjuster, a line in the trail). The bidi
# marks (U+200E, U+200F, U+061C) and the zero-width joiners stay: scripts and emoji need them.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _no_control_characters(text: str) -> str:
    found = CONTROL_CHARACTERS.search(text)
    if found:
        raise ValueError(f"must not contain control characters (U+{ord(found.group()):04X})")
    return text


FreeText = Annotated[str, AfterValidator(_no_control_characters)]

PolicyStatus = Literal["active", "lapsed", "cancelled", "expired"]
ClaimStatus = Literal[
    "submitted", "under_review", "approved", "paid", "closed", "rejected", "withdrawn"
]
OPEN_CLAIM_STATUSES: frozenset[str] = frozenset({"submitted", "under_review", "approved"})
Intent = Literal["policy_lookup", "claim_create", "claim_summary"]


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# Validators built on first use, not at import: a function does not pay at cold start for the
# models only the other functions use. Not for request bodies: FastAPI declares a body with an
# alias, and a body model built that late warns about it.
DEFERRED = ConfigDict(defer_build=True)


class UpstreamModel(BaseModel):
    # Upstream may add fields; we keep what we know and never crash on the rest.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)  # see DEFERRED


class Money(Contract):
    amount: Amount
    currency: CurrencyCode


# -- upstream system of record ------------------------------------------------------------


class Coverage(UpstreamModel):
    peril: Peril
    limit: Amount
    deductible: Amount


class PolicyTotals(UpstreamModel):
    aggregate_limit: Amount
    deductible: Amount


class Policy(UpstreamModel):
    policy_number: PolicyNumber
    status: PolicyStatus
    product_line: str
    customer_id: CustomerId
    effective_date: date
    expiration_date: date
    # The day cover ended early (lapse for non-payment, cancellation); None while it runs.
    terminated_on: date | None = None
    currency: CurrencyCode
    coverages: list[Coverage]
    totals: PolicyTotals


class Claim(UpstreamModel):
    claim_id: ClaimId
    policy_number: PolicyNumber
    customer_id: CustomerId
    status: ClaimStatus
    loss_date: date
    loss_type: Peril
    description: str
    amount_claimed: Money
    paid_amount: Amount = Decimal("0.00")
    reserve_amount: Amount = Decimal("0.00")
    created_at: AwareDatetime

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_CLAIM_STATUSES


# -- agent-facing requests ---------------------------------------------------------------


class PolicyLookupRequest(Contract):
    policy_number: PolicyNumber


class ClaimRequest(Contract):
    """First notice of loss, as an agent files it."""

    policy_number: PolicyNumber
    loss_date: date
    loss_type: Peril
    description: Annotated[FreeText, StringConstraints(min_length=1, max_length=2000)]
    amount_claimed: Money
    loss_location: Annotated[FreeText, StringConstraints(max_length=200)] | None = None


class ClaimSummaryRequest(Contract):
    policy_number: PolicyNumber
    claim_id: ClaimId | None = None


# -- agent-facing answers ----------------------------------------------------------------


class OpenClaim(Contract):
    model_config = DEFERRED

    claim_id: ClaimId
    status: ClaimStatus
    loss_date: date
    loss_type: Peril
    amount_claimed: Money
    reserve_amount: Amount


class ClaimAssessment(Contract):
    model_config = DEFERRED

    claim_id: ClaimId
    status: ClaimStatus
    amount_claimed: Money
    deductible: Amount
    estimated_payable: Amount


class ClaimSummary(Contract):
    model_config = DEFERRED

    policy_number: PolicyNumber
    customer_id: CustomerId
    policy_status: PolicyStatus
    currency: CurrencyCode
    coverage_limit: Amount
    deductible: Amount
    paid_to_date: Amount
    reserved_to_date: Amount
    remaining_limit: Amount
    open_claims: list[OpenClaim]
    claim: ClaimAssessment | None = None
    summary: str
    as_of: AwareDatetime


class ErrorInfo(Contract):
    code: str = Field(description="Stable machine code, e.g. POLICY_NOT_FOUND")
    message: str
    request_id: str
    details: dict[str, Any]


class ErrorBody(Contract):
    """Every refusal and failure, whichever door and status: never a stack trace."""

    error: ErrorInfo


# -- direct invocation (Step Functions, scripts): the HTTP request's fields plus the context
#    that HTTP carries in headers ------------------------------------------------------------


class CallerFields(Contract):
    conversation_id: ConversationId
    customer_id: CustomerId


class PolicyLookupTask(CallerFields, PolicyLookupRequest):
    model_config = DEFERRED


class ClaimCreateTask(CallerFields, ClaimRequest):
    model_config = DEFERRED

    idempotency_key: IdempotencyKey


class ClaimSummaryTask(CallerFields, ClaimSummaryRequest):
    model_config = DEFERRED


def utc_now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
