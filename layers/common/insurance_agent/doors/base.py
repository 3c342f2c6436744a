"""What every door shares: the operation and container it serves, and the audit of refusals."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from insurance_agent.catalog import Operation
from insurance_agent.context import CallContext, Channel
from insurance_agent.errors import AuditUnavailable, InsuranceAgentError
from insurance_agent.operations import record_refusal
from insurance_agent.runtime import ContainerRuntime

# Ids an envelope carries into audit columns (request ids, gateway and agent ids): printable
# ASCII without separators a trail reader could be fooled by, and bounded.
_ENVELOPE_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/=+@-]{0,127}$")


def envelope_text(value: Any) -> str | None:
    """``value`` if it is a well-formed envelope id, else None: the caller records no id
    rather than one with control characters or of unbounded length."""
    return value if isinstance(value, str) and _ENVELOPE_TEXT.fullmatch(value) else None


class Door(ABC):
    """One way in: turns an invoker's event into a call of the operation, and its answer (or
    refusal) back into what that invoker expects."""

    channel: ClassVar[Channel]

    def __init__(
        self,
        operation: Operation,
        runtime: ContainerRuntime,
        operations: Sequence[Operation] = (),
    ) -> None:
        self.operation = operation
        self.runtime = runtime
        # Every operation of the function (the HTTP door's app serves all their routes).
        self.operations = tuple(operations) or (operation,)

    @abstractmethod
    def handle(self, event: Any, context: Any) -> Any: ...

    def audited(
        self,
        ctx: CallContext,
        error: InsuranceAgentError,
        payload: dict[str, Any],
        operation: Operation | None = None,
    ) -> InsuranceAgentError:
        """Record a refusal the operation did not record itself; the error the caller sees
        (AuditUnavailable when the refusal cannot be recorded)."""
        if error.audited:
            return error
        try:
            intent = (operation or self.operation).intent
            record_refusal(self.runtime.services.audit, ctx, intent, payload, error)
        except AuditUnavailable as audit_error:
            return audit_error
        error.audited = True
        return error
