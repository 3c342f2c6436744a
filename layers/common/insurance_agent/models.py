"""The contract: pydantic v2 models for what agents send, what they get, and what upstream says.

IDs are validated here, at the edge, by pattern. Money is ``Decimal`` with an ISO 4217 code and
serialises as a string so no float ever touches an amount. Times are timezone-aware UTC.
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeGuard
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import PydanticCustomError, SchemaError

from insurance_agent.errors import ConfigurationError
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


# -- the insurer's identifiers -----------------------------------------------------------------
# Each insurer numbers policies, customers and claims its own way: the accepted formats are
# settings, read once at import (a cold start), today's numbering by default. Whatever the
# pattern, an id is also one URL path segment upstream and one audit column: ASCII letters,
# digits, '.', '_' and '-' only, at most 64 characters (IDENTIFIER_CHARACTERS).
DEFAULT_POLICY_NUMBER_PATTERN = r"^POL-[0-9]{5,10}$"
DEFAULT_CUSTOMER_ID_PATTERN = r"^cust-[0-9]{1,12}$"
DEFAULT_CLAIM_ID_PATTERN = r"^CLM-[0-9A-Z]{6,26}$"
IDENTIFIER_CHARACTERS = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def identifier_pattern(setting: str, default: str) -> str:
    """The pattern the environment sets for ``setting`` (default otherwise), anchored: a
    pattern that is not a regular expression pydantic can run fails the cold start naming the
    setting."""
    value = os.environ.get(setting, "").strip() or default
    anchored = value if value.startswith("^") and value.endswith("$") else f"^(?:{value})$"
    try:
        re.compile(anchored)
        # pydantic runs patterns on its own (Rust) engine: one Python accepts may not build.
        TypeAdapter(Annotated[str, StringConstraints(pattern=anchored)])
    except (re.error, SchemaError) as exc:
        reason = str(exc).splitlines()[0][:200]
        raise ConfigurationError(
            f"invalid configuration: {setting}: not a usable regular expression ({reason})"
        ) from None
    return anchored


POLICY_NUMBER_PATTERN = identifier_pattern("POLICY_NUMBER_PATTERN", DEFAULT_POLICY_NUMBER_PATTERN)
# Shared with principal.py, which checks a token's customer_id claim against the same rule.
CUSTOMER_ID_PATTERN = identifier_pattern("CUSTOMER_ID_PATTERN", DEFAULT_CUSTOMER_ID_PATTERN)
CLAIM_ID_PATTERN = identifier_pattern("CLAIM_ID_PATTERN", DEFAULT_CLAIM_ID_PATTERN)
_IDENTIFIER = re.compile(IDENTIFIER_CHARACTERS)


def _identifier_characters(value: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError(
            "must be letters, digits, '.', '_' or '-' (at most 64, starting with a letter or digit)"
        )
    return value


def is_customer_id(value: object) -> TypeGuard[str]:
    """The CustomerId rule outside a model (principal.py checks token claims with it)."""
    return (
        isinstance(value, str)
        and _IDENTIFIER.fullmatch(value) is not None
        and _CUSTOMER_ID.fullmatch(value) is not None
    )


_CUSTOMER_ID = re.compile(CUSTOMER_ID_PATTERN)


def identifier_words(pattern: str, default: str, default_words: str, what: str) -> str:
    """How a refusal names an identifier's format: in words for today's numbering, and for an
    insurer's own (a setting) the pattern it set."""
    return default_words if pattern == default else f"{what} follow the pattern {pattern}"


PolicyNumber = Annotated[
    str,
    StringConstraints(pattern=POLICY_NUMBER_PATTERN),
    _in_words(
        identifier_words(
            POLICY_NUMBER_PATTERN,
            DEFAULT_POLICY_NUMBER_PATTERN,
            "policy numbers look like POL-10001 (POL- and 5 to 10 digits)",
            "policy numbers",
        )
    ),
    AfterValidator(_identifier_characters),
]
ClaimId = Annotated[
    str,
    StringConstraints(pattern=CLAIM_ID_PATTERN),
    _in_words(
        identifier_words(
            CLAIM_ID_PATTERN,
            DEFAULT_CLAIM_ID_PATTERN,
            "claim ids look like CLM-000102 (CLM- and 6 to 26 digits or capital letters)",
            "claim ids",
        )
    ),
    AfterValidator(_identifier_characters),
]
CustomerId = Annotated[
    str,
    StringConstraints(pattern=CUSTOMER_ID_PATTERN),
    _in_words(
        identifier_words(
            CUSTOMER_ID_PATTERN,
            DEFAULT_CUSTOMER_ID_PATTERN,
            "customer ids look like cust-7788 (cust- and 1 to 12 digits)",
            "customer ids",
        )
    ),
    AfterValidator(_identifier_characters),
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
# pydantic checks max_digits and decimal_places in Python, twice over the digits of each amount
# (~4 us; a policy has eight amounts, a claims list dozens). An amount that plainly fits is let
# through here; any other goes to pydantic's own checks, so its errors stay pydantic's.
_AMOUNT_DIGITS: TypeAdapter[Decimal] = TypeAdapter(
    Annotated[Decimal, Field(max_digits=15, decimal_places=2)]
)


def _amount_digits(amount: Decimal) -> Decimal:
    _, digits, exponent = amount.as_tuple()
    if isinstance(exponent, int) and -2 <= exponent <= 0 and len(digits) + exponent <= 13:
        return amount
    try:
        return _AMOUNT_DIGITS.validate_python(amount)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise PydanticCustomError(error["type"], error["msg"], error.get("ctx")) from None


Amount = Annotated[
    Decimal,
    BeforeValidator(_amount_text),
    Field(allow_inf_nan=False),
    AfterValidator(_amount_digits),
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
Intent = Literal[
    "policy_lookup", "claim_create", "claim_summary", "coverage_check", "triage_decision"
]


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# Validators built on first use, not at import: a function does not pay at cold start for the
# models only the other functions use. Not for request bodies: FastAPI declares a body with an
# alias, and a body model built that late warns about it.
DEFERRED = ConfigDict(defer_build=True)


class UpstreamModel(BaseModel):
    # Upstream may add fields; we keep what we know and never crash on the rest.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)  # see DEFERRED


class AuditedAnswer(BaseModel):
    """An answer that names the audit row it was recorded as (``agent_interactions.id``), so a
    caller can cite it: a triage decision's ``relied_on``, a compliance question. Set by
    ``operations.run_audited`` after the row is written; never taken from upstream."""

    audit_id: UUID | None = None


class Money(Contract):
    amount: Amount
    currency: CurrencyCode


# -- upstream system of record ------------------------------------------------------------


class Customer(UpstreamModel):
    """A customer's profile as upstream holds it. Only what an answer may need is kept:
    upstream's other fields (government ids among them) are dropped on arrival."""

    customer_id: CustomerId
    full_name: str
    preferred_contact_channel: str = "email"
    preferred_language: str = "en"
    policies: list[PolicyNumber] = []


class Coverage(UpstreamModel):
    peril: Peril
    limit: Amount
    deductible: Amount


class PolicyTotals(UpstreamModel):
    aggregate_limit: Amount
    deductible: Amount


class Policy(AuditedAnswer, UpstreamModel):
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


class Claim(AuditedAnswer, UpstreamModel):
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
    # Who the policyholder is: the underwriting copilot's applicant history. Opt-in, as it
    # reads personal data and every other policy of the customer.
    include_policyholder: bool = False


class CoverageCheckRequest(Contract):
    """ "Am I covered?": a loss described as it would be filed, without filing anything."""

    policy_number: PolicyNumber
    loss_date: date
    loss_type: Peril
    # What the loss may cost, as a filing would claim it (optional).
    amount_claimed: Money | None = None


TriageDecisionKind = Literal[
    "fast_track", "refer_to_adjuster", "request_documents", "decline_to_proceed"
]
DecidedBy = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/@+-]{0,127}$")]
Confidence = Annotated[
    Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4, allow_inf_nan=False)
]
ReasonText = Annotated[FreeText, StringConstraints(min_length=1, max_length=500)]


class TriageDecisionBody(Contract):
    """A decision an agent or workflow took on a claim, and what it was based on (the HTTP
    body: the claim is named by the path)."""

    policy_number: PolicyNumber
    decision: TriageDecisionKind
    reasons: Annotated[list[ReasonText], Field(min_length=1, max_length=20)]
    confidence: Confidence
    decided_by: DecidedBy
    # Audit rows (agent_interactions ids) of the same customer the decision relied on: at
    # least one, since a decision with no recorded evidence cannot be reviewed.
    relied_on: Annotated[list[UUID], Field(min_length=1, max_length=50)]


class TriageDecisionRequest(TriageDecisionBody):
    claim_id: ClaimId


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


class PolicyholderPolicy(Contract):
    model_config = DEFERRED

    policy_number: PolicyNumber
    product_line: str
    status: PolicyStatus


class ClaimsHistory(Contract):
    """The customer's claims on every policy they hold: counts by where they stand, and what
    was paid (one total per currency)."""

    model_config = DEFERRED

    total: int
    open: int
    paid: int
    rejected_or_withdrawn: int
    paid_totals: list[Money]


class Policyholder(Contract):
    model_config = DEFERRED

    customer_id: CustomerId
    full_name: str
    preferred_contact_channel: str
    preferred_language: str
    # The customer's other policies (the one asked about is the summary itself).
    other_policies: list[PolicyholderPolicy]
    claims_history: ClaimsHistory


class ClaimSummary(AuditedAnswer, Contract):
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
    policyholder: Policyholder | None = None


CoverageReasonCode = Literal[
    "amount_not_positive",
    "currency_mismatch",
    "loss_date_in_future",
    "policy_not_in_force",
    "peril_not_covered",
]


class CoverageReason(Contract):
    model_config = DEFERRED

    code: CoverageReasonCode
    message: str


class CoverageAnswer(AuditedAnswer, Contract):
    """Whether a loss would be covered, by the rules a filing is checked against."""

    model_config = DEFERRED

    policy_number: PolicyNumber
    loss_date: date
    loss_type: Peril
    covered: bool
    # Every rule the loss breaks, in the order a filing checks them, each in words an
    # assistant can quote; empty when covered.
    reasons: list[CoverageReason]
    # The error code a filing of this loss would be refused with (None: it would be accepted).
    refusal_code: str | None
    currency: CurrencyCode
    deductible: Amount | None
    remaining_limit: Amount | None
    estimated_payable: Amount | None
    summary: str
    as_of: AwareDatetime


class TriageDecision(AuditedAnswer, Contract):
    """A recorded triage decision: what was decided, why, by whom, on what evidence."""

    model_config = DEFERRED

    claim_id: ClaimId
    policy_number: PolicyNumber
    customer_id: CustomerId
    decision: TriageDecisionKind
    reasons: list[str]
    confidence: Confidence
    decided_by: str
    relied_on: list[UUID]
    recorded_at: AwareDatetime


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


class CoverageCheckTask(CallerFields, CoverageCheckRequest):
    model_config = DEFERRED


class TriageDecisionTask(CallerFields, TriageDecisionRequest):
    model_config = DEFERRED


def utc_now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
