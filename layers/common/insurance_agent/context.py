"""Who is calling, about what, through which door: built by each entry path, used by all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from insurance_agent.principal import Principal

Channel = Literal["http", "direct", "bedrock"]


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
