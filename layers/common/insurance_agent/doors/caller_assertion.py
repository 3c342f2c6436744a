"""Who an MCP tool call acts for, as the Gateway interceptor asserts it to the tool function.

AgentCore Gateway verifies the agent's bearer token but hands a Lambda target only the tool's
arguments: no identity. Our REQUEST interceptor (doors/interceptor.py) reads the verified token's
claims, removes any ``caller_assertion`` the agent wrote into the arguments, and adds its own,
signed with HMAC-SHA256 under a key only the interceptor and the functions hold. The function
believes an assertion only with a good signature, for this tool, before it expires: an agent
cannot widen whom it acts for by writing arguments, and a Gateway set up without the interceptor
gets 401s, not trust.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from insurance_agent.errors import Unauthorized
from insurance_agent.principal import Principal

ARGUMENT = "caller_assertion"
VERSION = 1
AssertedKind = Literal["customer", "agent", "unscoped"]


@dataclass(frozen=True)
class CallerAssertion:
    kind: AssertedKind
    subject: str
    tool: str
    expires_at: int
    customer_id: str | None = None
    # Why the token was refused, for an "unscoped" assertion: the function answers 403 with it.
    refusal: str | None = None

    def principal(self) -> Principal:
        """Who acts; an "unscoped" caller (whose calls are refused) as the audit names it."""
        if self.kind == "customer" and self.customer_id:
            return Principal.customer(self.subject, self.customer_id)
        if self.kind == "agent":
            return Principal.agent(self.subject)
        return Principal("unscoped", f"unscoped:{self.subject}")


def _canonical(fields: Mapping[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def _mac(key: str, fields: Mapping[str, Any]) -> str:
    digest = hmac.new(key.encode(), _canonical(fields), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(assertion: CallerAssertion, key: str) -> dict[str, Any]:
    fields = {"v": VERSION, **asdict(assertion)}
    return fields | {"sig": _mac(key, fields)}


def verify(value: Any, key: str, *, tool: str, now: float) -> CallerAssertion:
    """The assertion ``value`` carries, if it is ours, for ``tool`` and still valid; else 401."""
    if value is None:
        raise Unauthorized("the tool call carries no caller assertion from the gateway")
    if not isinstance(value, Mapping) or not isinstance(value.get("sig"), str):
        raise Unauthorized("the caller assertion is malformed")
    fields = {k: v for k, v in value.items() if k != "sig"}
    if not hmac.compare_digest(_mac(key, fields), value["sig"]):
        raise Unauthorized("the caller assertion's signature does not verify")
    try:
        assertion = CallerAssertion(**{k: v for k, v in fields.items() if k != "v"})
    except TypeError:
        raise Unauthorized("the caller assertion is malformed") from None
    if fields.get("v") != VERSION or assertion.tool != tool:
        raise Unauthorized("the caller assertion was made for another tool call")
    if assertion.expires_at < now:
        raise Unauthorized("the caller assertion has expired")
    return assertion
