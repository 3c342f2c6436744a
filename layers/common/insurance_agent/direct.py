"""Direct invocation (Step Functions, scripts): a JSON task in, the answer model's JSON out.

Errors are raised, not returned: Lambda reports the exception's class name as ``errorType``,
which is the name the state machine retries or catches on.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from insurance_agent.catalog import Operation
from insurance_agent.context import CallContext
from insurance_agent.errors import ValidationFailed
from insurance_agent.models import CallerFields
from insurance_agent.operations import record_refusal
from insurance_agent.runtime import ContainerRuntime
from insurance_agent.validation import describe_errors, summarize_errors


def handle_direct(
    operation: Operation, runtime: ContainerRuntime, event: Any, context: Any
) -> dict[str, Any]:
    base = CallContext(
        request_id=context.aws_request_id,
        function_name=context.function_name,
        channel="direct",
        # Lambda does not tell who invoked it; IAM decided that they may.
        principal="iam-invoke",
    )
    try:
        task = operation.task_model.model_validate(event)
    except ValidationError as exc:
        described = describe_errors(exc.errors())
        error = ValidationFailed(
            f"invalid task input: {summarize_errors(described)}", details={"errors": described}
        )
        caller = event if isinstance(event, dict) else {}
        refused = _with_known_caller(base, caller)
        record_refusal(
            runtime.services.audit, refused, operation.intent, {"errors": error.details}, error
        )
        raise error from None
    ctx = replace(
        base,
        conversation_id=task.conversation_id,
        customer_id=task.customer_id,
        idempotency_key=getattr(task, "idempotency_key", None),
    )
    result = operation.run(runtime.services, ctx, operation.request_from_task(task))
    return result.model_dump(mode="json")


def _with_known_caller(base: CallContext, event: dict[str, Any]) -> CallContext:
    """Keep the caller ids of a refused task when they are well-formed, for the trail."""
    try:
        caller = CallerFields.model_validate(
            {k: event.get(k) for k in ("conversation_id", "customer_id")}
        )
    except ValidationError:
        return base
    return replace(base, conversation_id=caller.conversation_id, customer_id=caller.customer_id)
