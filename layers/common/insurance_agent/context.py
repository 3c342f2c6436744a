"""Who is calling, about what, through which door: built by each entry path, used by all."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from insurance_agent.models import ConversationId, CustomerId

Channel = Literal["http", "direct", "bedrock"]


@dataclass(frozen=True)
class CallContext:
    request_id: str
    function_name: str
    channel: Channel
    conversation_id: str | None = None
    customer_id: str | None = None
    # Who the caller is: the JWT subject on HTTP, the invoking service on direct calls.
    principal: str | None = None
    idempotency_key: str | None = None


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
