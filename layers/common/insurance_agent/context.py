"""Who is calling, about what, through which door: built by each entry path, used by all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from insurance_agent.models import ConversationId, CustomerId
from insurance_agent.principal import Principal

Channel = Literal["http", "direct", "bedrock", "mcp"]


@dataclass(frozen=True)
class CallContext:
    request_id: str
    function_name: str
    channel: Channel
    conversation_id: str | None = None
    customer_id: str | None = None
    # Who acted: the verified token's holder on HTTP, the invoking service on direct calls.
    principal: Principal | None = None
    idempotency_key: str | None = None
    # An MCP call's AgentCore Gateway ids (tool, gateway, target, MCP message): recorded with
    # what was asked, so a reviewer can match the row to the gateway's own logs.
    gateway: Mapping[str, str] | None = None


_CALLER_IDS: dict[str, TypeAdapter[str]] = {
    "conversation_id": TypeAdapter(ConversationId),
    "customer_id": TypeAdapter(CustomerId),
}


def with_known_caller(ctx: CallContext, **ids: Any) -> CallContext:
    """``ctx`` with each caller id (conversation_id, customer_id) that is well-formed, for the
    trail of a request refused before its ids were validated; a malformed one stays None."""
    known: dict[str, str | None] = {}
    for name, adapter in _CALLER_IDS.items():
        try:
            known[name] = adapter.validate_python(ids.get(name))
        except ValidationError:
            known[name] = None
    return replace(ctx, conversation_id=known["conversation_id"], customer_id=known["customer_id"])


def refusal_context(ctx: CallContext, headers: Mapping[str, str]) -> CallContext:
    """The context of an HTTP request refused at the edge: the header ids that are well-formed,
    and for a customer principal its own customer id when the header names none."""
    known = with_known_caller(
        ctx,
        conversation_id=headers.get("x-conversation-id"),
        customer_id=headers.get("x-customer-id"),
    )
    if known.customer_id is None and ctx.principal is not None:
        return replace(known, customer_id=ctx.principal.customer_id)
    return known
