"""Who is calling, and for whom they may act.

On HTTP the caller is whoever API Gateway's JWT authorizer verified: the functions read the
claims it passes in ``requestContext.authorizer.jwt`` and nothing a caller can set in a header.
Through MCP it is whoever AgentCore Gateway verified, as our interceptor asserts it
(doors/caller_assertion.py). Two kinds of token holder are served:

- a **customer** (a ``customer_id`` claim) acts only on its own policies and claims;
- an **agent** (the ``insurance/agent`` scope) acts for any customer, but names the customer
  and the conversation it acts in.

A token with a ``customer_id`` claim is a customer's even if it also carries the agent scope:
the narrower reading wins. Direct invocations (Step Functions) and Bedrock action groups are
let in by IAM; they act for the customer their input names and are audited with their caller.

Which claims say what is configurable (``ClaimNames``, from settings): a Cognito ID token
carries the customer as ``custom:customer_id``, another provider under another name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from insurance_agent.errors import Forbidden, Unauthorized
from insurance_agent.models import is_customer_id

AGENT_SCOPE = "insurance/agent"
# Subjects go into the audit's principal column: printable, bounded, no separators to spoof.
_SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@|+-]{0,127}$")

Kind = Literal["customer", "agent", "iam", "bedrock-agent", "unscoped"]


@dataclass(frozen=True)
class ClaimNames:
    """Which token claims name the customer and the subject, and which scope makes an agent."""

    customer_id: str = "customer_id"
    # The first of these that is present and well-formed is the subject.
    subject: tuple[str, ...] = ("sub", "client_id")
    agent_scope: str = AGENT_SCOPE


DEFAULT_CLAIM_NAMES = ClaimNames()


@dataclass(frozen=True)
class Principal:
    kind: Kind
    # What the audit's principal column says: customer:<sub>, agent:<sub>, iam-invoke, ...
    name: str
    # A customer principal's own customer id: the only customer it may act on.
    customer_id: str | None = None

    @classmethod
    def customer(cls, subject: str, customer_id: str) -> Principal:
        return cls("customer", f"customer:{subject}", customer_id)

    @classmethod
    def agent(cls, subject: str) -> Principal:
        return cls("agent", f"agent:{subject}")

    @classmethod
    def bedrock_agent(cls, agent_id: str, alias: str) -> Principal:
        return cls("bedrock-agent", f"bedrock-agent:{agent_id}/{alias}")

    @property
    def names_its_caller_ids(self) -> bool:
        """Whether the request must name the customer and the conversation it acts in."""
        return self.kind == "agent"

    def may_act_for(self, customer_id: str | None) -> bool:
        return self.customer_id is None or customer_id in (None, self.customer_id)


# Lambda does not tell who invoked it directly; IAM decided that they may.
IAM_INVOKE = Principal("iam", "iam-invoke")


def jwt_context(event: Mapping[str, Any]) -> Any:
    """``requestContext.authorizer.jwt`` of an HTTP API event: what the JWT authorizer verified."""
    request_context = event.get("requestContext")
    authorizer = request_context.get("authorizer") if isinstance(request_context, Mapping) else None
    return authorizer.get("jwt") if isinstance(authorizer, Mapping) else None


def scopes_of(jwt: Mapping[str, Any]) -> frozenset[str]:
    """The token's scopes: the authorizer's ``scopes`` list and the ``scope``/``scp`` claims
    (API Gateway passes claims as strings: "a b" or, for a JSON array, "[a b]")."""
    found: set[str] = set()
    listed = jwt.get("scopes")
    if isinstance(listed, list):
        found.update(str(s) for s in listed)
    claims = jwt.get("claims")
    if isinstance(claims, Mapping):
        found.update(scopes_in_claims(claims))
    return frozenset(found)


def scopes_in_claims(claims: Mapping[str, Any]) -> frozenset[str]:
    found: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            found.update(value.strip("[]").split())
        elif isinstance(value, list):
            found.update(str(s) for s in value)
    return frozenset(found)


def principal_from_jwt(jwt: Any, names: ClaimNames = DEFAULT_CLAIM_NAMES) -> Principal:
    """The principal a verified token stands for.

    ``jwt`` is ``requestContext.authorizer.jwt`` of an API Gateway HTTP API event. No claims
    there means the route is not behind the JWT authorizer (a misconfigured gateway): 401.
    Claims that name neither a customer nor the agent scope: 403.
    """
    claims = jwt.get("claims") if isinstance(jwt, Mapping) else None
    if not isinstance(claims, Mapping) or not claims:
        raise Unauthorized("no verified identity on the request")
    return principal_from_claims(claims, scopes_of(jwt), names)


def principal_from_claims(
    claims: Mapping[str, Any], scopes: frozenset[str], names: ClaimNames = DEFAULT_CLAIM_NAMES
) -> Principal:
    """The principal verified claims stand for: a customer, an agent, or 403."""
    subject = _subject(claims, names)
    if subject is None:
        raise Forbidden("the token names no subject")
    customer_id = claims.get(names.customer_id)
    if customer_id is not None:
        # Checked like any id at the edge: the CustomerId rule of models.py (a setting).
        if not is_customer_id(customer_id):
            raise Forbidden(f"the token's {names.customer_id} claim is not a customer id")
        return Principal.customer(subject, customer_id)
    if names.agent_scope in scopes:
        return Principal.agent(subject)
    raise Forbidden(f"the token names no customer and does not carry the {names.agent_scope} scope")


def refused_principal(jwt: Any, names: ClaimNames = DEFAULT_CLAIM_NAMES) -> Principal | None:
    """Who a refused request's token says it is, for the audit of the refusal; never raises."""
    try:
        return principal_from_jwt(jwt, names)
    except Unauthorized:
        return None
    except Forbidden:
        claims = jwt.get("claims") if isinstance(jwt, Mapping) else None
        subject = _subject(claims, names) if isinstance(claims, Mapping) else None
        return Principal("unscoped", f"unscoped:{subject or '?'}")


def _subject(claims: Mapping[str, Any], names: ClaimNames) -> str | None:
    # Cognito's client-credentials tokens carry client_id; sub is the same client there.
    for name in names.subject:
        value = claims.get(name)
        if isinstance(value, str) and _SUBJECT.fullmatch(value):
            return value
    return None
