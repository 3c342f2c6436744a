"""Direct invocation (Step Functions, scripts): a JSON task in, the answer model's JSON out.

Errors are raised, not returned: Lambda reports the exception's class name as ``errorType``,
which is the name the state machine retries or catches on.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ValidationError

from insurance_agent.catalog import Operation
from insurance_agent.context import CallContext, with_known_caller
from insurance_agent.errors import InsuranceAgentError, ValidationFailed
from insurance_agent.operations import record_refusal
from insurance_agent.principal import IAM_INVOKE
from insurance_agent.runtime import ContainerRuntime
from insurance_agent.validation import describe_errors, summarize_errors


def handle_direct(
    operation: Operation, runtime: ContainerRuntime, event: Any, context: Any
) -> dict[str, Any]:
    base = CallContext(
        request_id=context.aws_request_id,
        function_name=context.function_name,
        channel="direct",
        principal=IAM_INVOKE,
    )
    try:
        return run_task(operation, runtime, base, event).model_dump(mode="json")
    except InsuranceAgentError as error:
        # Lambda reports str(exception) as errorMessage, which Step Functions passes on as the
        # failure's cause: lead with the stable code so a Fail state carries code and message.
        error.args = (f"{error.code}: {error.message}",)
        raise


def run_task(
    operation: Operation, runtime: ContainerRuntime, base: CallContext, task_input: Any
) -> BaseModel:
    """Validate a task (request fields plus caller fields) and run the operation on it.

    Shared by the doors that carry the caller ids in the input rather than in HTTP headers
    (direct invocations, Bedrock action groups); ``base`` says which door and who called.
    """
    try:
        task = operation.task_model.model_validate(task_input)
    except ValidationError as exc:
        described = describe_errors(exc.errors())
        error = ValidationFailed(
            f"invalid task input: {summarize_errors(described)}", details={"errors": described}
        )
        caller = task_input if isinstance(task_input, dict) else {}
        refused = with_known_caller(
            base,
            conversation_id=caller.get("conversation_id"),
            customer_id=caller.get("customer_id"),
        )
        record_refusal(
            runtime.services.audit, refused, operation.intent, {"errors": error.details}, error
        )
        error.audited = True
        raise error from None
    ctx = replace(
        base,
        conversation_id=task.conversation_id,
        customer_id=task.customer_id,
        idempotency_key=getattr(task, "idempotency_key", None),
    )
    return operation.run(runtime.services, ctx, operation.request_from_task(task))
