"""The direct door (Step Functions, scripts): a JSON task in, the answer model's JSON out.

Errors are raised, not returned: Lambda reports the exception's class name as ``errorType``,
which is the name the state machine retries or catches on.

A task is the request's fields plus the caller fields, and nothing else. A task that carries an
event envelope (an API Gateway or Bedrock event, or a caller assertion, relayed inside an
execution's input) is refused and audited: only the invoker decides the door and the caller,
never a payload it relays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ValidationError

from insurance_agent.catalog import OPERATION_KEY, Operation
from insurance_agent.context import CallContext, with_known_caller
from insurance_agent.doors import client_context_custom
from insurance_agent.doors.base import Door, envelope_text
from insurance_agent.errors import InsuranceAgentError, RouteNotFound, ValidationFailed
from insurance_agent.operations import record_refusal
from insurance_agent.principal import IAM_INVOKE
from insurance_agent.runtime import ContainerRuntime
from insurance_agent.validation import describe_errors, summarize_errors

# Top-level keys of the events other doors receive: never a task's fields.
ENVELOPE_KEYS = frozenset(
    {
        "version",
        "routeKey",
        "rawPath",
        "rawQueryString",
        "requestContext",
        "headers",
        "multiValueHeaders",
        "pathParameters",
        "queryStringParameters",
        "body",
        "isBase64Encoded",
        "resource",
        "httpMethod",
        "messageVersion",
        "actionGroup",
        "apiPath",
        "agent",
        "sessionId",
        "sessionAttributes",
        "promptSessionAttributes",
        "caller_assertion",
    }
)


class DirectDoor(Door):
    channel = "direct"

    def handle(self, event: Any, context: Any) -> dict[str, Any]:
        base = CallContext(
            request_id=envelope_text(getattr(context, "aws_request_id", None)) or "unknown",
            function_name=str(getattr(context, "function_name", "unknown")),
            channel="direct",
            principal=IAM_INVOKE,
        )
        try:
            self._refuse_unknown_operation(base, event, context)
            refuse_envelope(self.runtime, self.operation, base, event)
            return run_task(self.operation, self.runtime, base, event).model_dump(mode="json")
        except InsuranceAgentError as error:
            # Lambda reports str(exception) as errorMessage, which Step Functions passes on as
            # the failure's cause: lead with the stable code so a Fail state carries both.
            error.args = (f"{error.code}: {error.message}",)
            raise

    def _refuse_unknown_operation(self, base: CallContext, event: Any, context: Any) -> None:
        """Refuse (audited) a task whose invoker names an operation this function does not
        serve: the entry routes a known name to its own operation's door."""
        named = client_context_custom(context).get(OPERATION_KEY)
        if named is None or named == self.operation.intent:
            return
        served = ", ".join(op.intent for op in self.operations)
        shown = envelope_text(named) or "an unreadable name"
        error = RouteNotFound(
            f"this function serves {served}, not {shown}", code="UNKNOWN_OPERATION"
        )
        caller = event if isinstance(event, Mapping) else {}
        refused = with_known_caller(
            base,
            conversation_id=caller.get("conversation_id"),
            customer_id=caller.get("customer_id"),
        )
        record_refusal(
            self.runtime.services.audit,
            refused,
            self.operation.intent,
            {"operation": shown},
            error,
        )
        error.audited = True
        raise error


def refuse_envelope(
    runtime: ContainerRuntime, operation: Operation, base: CallContext, task_input: Any
) -> None:
    """Refuse (422, audited) a task that carries another door's envelope keys."""
    if not isinstance(task_input, Mapping):
        return
    found = sorted(ENVELOPE_KEYS.intersection(task_input))
    if not found:
        return
    error = ValidationFailed(
        "a task carries the request's fields and the caller's ids only, not an event "
        f"envelope: {', '.join(found)}",
        details={"errors": [{"field": key, "message": "not a task field"} for key in found]},
    )
    refused = with_known_caller(
        base,
        conversation_id=task_input.get("conversation_id"),
        customer_id=task_input.get("customer_id"),
    )
    record_refusal(
        runtime.services.audit, refused, operation.intent, {"envelope_keys": found}, error
    )
    error.audited = True
    raise error


def run_task(
    operation: Operation, runtime: ContainerRuntime, base: CallContext, task_input: Any
) -> BaseModel:
    """Validate a task (request fields plus caller fields) and run the operation on it.

    Shared by the doors that carry the caller ids in the input rather than in HTTP headers
    (direct invocations, MCP tool calls, Bedrock action groups); ``base`` says which door and
    who called.
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
