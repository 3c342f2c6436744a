"""The three functions this layer serves: what each one runs and how each door reaches it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from insurance_agent.context import CallContext
from insurance_agent.models import (
    CallerFields,
    ClaimCreateTask,
    ClaimRequest,
    ClaimSummaryRequest,
    ClaimSummaryTask,
    Intent,
    PolicyLookupRequest,
    PolicyLookupTask,
)
from insurance_agent.operations import Services, create_claim, lookup_policy, summarize_claims


@dataclass(frozen=True)
class Operation:
    intent: Intent
    # A direct invocation's input: the HTTP request's fields plus the caller fields.
    task_model: type[CallerFields]
    request_model: type[BaseModel]
    run: Callable[[Services, CallContext, Any], BaseModel]
    # "module:factory" of the FastAPI app, imported only when an HTTP event arrives, so
    # Step Functions invocations never pay for importing FastAPI.
    http_app: str
    method: str
    route: str
    # The MCP tool's name (AgentCore Gateway prefixes it with the target's: <target>___<tool>).
    tool: str
    # What the HTTP route answers on success; the Bedrock door answers the same.
    success_status: int = 200

    def request_from_task(self, task: CallerFields) -> BaseModel:
        fields = task.model_dump(include=set(self.request_model.model_fields))
        return self.request_model.model_validate(fields)


POLICY_LOOKUP = Operation(
    intent="policy_lookup",
    task_model=PolicyLookupTask,
    request_model=PolicyLookupRequest,
    run=lookup_policy,
    http_app="insurance_agent.web.apps:policy_lookup_app",
    method="GET",
    route="/policies/{policy_number}",
    tool="lookup_policy",
)

CLAIM_CREATE = Operation(
    intent="claim_create",
    task_model=ClaimCreateTask,
    request_model=ClaimRequest,
    run=create_claim,
    http_app="insurance_agent.web.apps:claim_create_app",
    method="POST",
    route="/claims",
    tool="file_claim",
    success_status=201,
)

CLAIM_SUMMARY = Operation(
    intent="claim_summary",
    task_model=ClaimSummaryTask,
    request_model=ClaimSummaryRequest,
    run=summarize_claims,
    http_app="insurance_agent.web.apps:claim_summary_app",
    method="POST",
    route="/agent/claim-summary",
    tool="get_claim_summary",
)

OPERATIONS: dict[str, Operation] = {
    op.intent: op for op in (POLICY_LOOKUP, CLAIM_CREATE, CLAIM_SUMMARY)
}
