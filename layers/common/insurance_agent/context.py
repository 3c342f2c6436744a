"""Who is calling, about what, through which door: built by each entry path, used by all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
