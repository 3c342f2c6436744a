"""The three functions this layer serves, the operations each one runs, and how each door
reaches an operation.

A function may serve more than one operation (ClaimSummaryFunction states coverage positions:
a summary, and whether a loss would be covered; ClaimCreateFunction writes to a claim: filing
it, and recording a triage decision on it). Each door picks the operation from what its invoker
controls, never from a payload's keys: HTTP from the route API Gateway matched, MCP from the
tool name AgentCore Gateway sets, Bedrock from the action's apiPath, a direct task from the
invoker's client context (``OPERATION_KEY``; the function's first operation by default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from insurance_agent.context import CallContext
from insurance_agent.models import (
    CallerFields,
    Claim,
    ClaimCreateTask,
    ClaimRequest,
    ClaimSummary,
    ClaimSummaryRequest,
    ClaimSummaryTask,
    CoverageAnswer,
    CoverageCheckRequest,
    CoverageCheckTask,
    Intent,
    Policy,
    PolicyLookupRequest,
    PolicyLookupTask,
    TriageDecision,
    TriageDecisionRequest,
    TriageDecisionTask,
)
from insurance_agent.operations import (
    Services,
    check_coverage,
    create_claim,
    lookup_policy,
    record_triage_decision,
    summarize_claims,
)

# Set by the invoker of a direct task (the state machine's ClientContext) to pick the
# operation of a function that serves several; absent: the function's first.
OPERATION_KEY = "insuranceAgentOperation"


@dataclass(frozen=True)
class Operation:
    intent: Intent
    # A direct invocation's input: the HTTP request's fields plus the caller fields.
    task_model: type[CallerFields]
    request_model: type[BaseModel]
    # What the operation answers on success (every door answers the same model).
    answer_model: type[BaseModel]
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
    answer_model=Policy,
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
    answer_model=Claim,
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
    answer_model=ClaimSummary,
    run=summarize_claims,
    http_app="insurance_agent.web.apps:claim_summary_app",
    method="POST",
    route="/agent/claim-summary",
    tool="get_claim_summary",
)

COVERAGE_CHECK = Operation(
    intent="coverage_check",
    task_model=CoverageCheckTask,
    request_model=CoverageCheckRequest,
    answer_model=CoverageAnswer,
    run=check_coverage,
    http_app="insurance_agent.web.apps:claim_summary_app",
    method="POST",
    route="/agent/coverage-check",
    tool="check_coverage",
)

TRIAGE_DECISION = Operation(
    intent="triage_decision",
    task_model=TriageDecisionTask,
    request_model=TriageDecisionRequest,
    answer_model=TriageDecision,
    run=record_triage_decision,
    http_app="insurance_agent.web.apps:claim_create_app",
    method="POST",
    route="/claims/{claim_id}/decisions",
    tool="record_triage_decision",
    success_status=201,
)

# Each function's operations, its default (a direct task naming none) first.
FUNCTIONS: dict[str, tuple[Operation, ...]] = {
    "PolicyLookupFunction": (POLICY_LOOKUP,),
    "ClaimCreateFunction": (CLAIM_CREATE, TRIAGE_DECISION),
    "ClaimSummaryFunction": (CLAIM_SUMMARY, COVERAGE_CHECK),
}

OPERATIONS: dict[str, Operation] = {op.intent: op for ops in FUNCTIONS.values() for op in ops}


def function_of(operation: Operation) -> str:
    """The logical id of the function that serves ``operation``."""
    return next(name for name, ops in FUNCTIONS.items() if operation in ops)


def served_with(operation: Operation) -> tuple[Operation, ...]:
    """Every operation of the function that serves ``operation`` (its default first)."""
    return FUNCTIONS[function_of(operation)]
