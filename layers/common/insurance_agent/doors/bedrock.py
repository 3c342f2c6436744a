"""The Bedrock Agent door (legacy): action-group events (OpenAPI-schema style).

Bedrock sends the operation the model chose (``apiPath`` as the schema writes it, with
``{placeholders}``, and ``httpMethod``), the values the model filled in (``parameters`` and
``requestBody.content["application/json"].properties``, every value a string) and the
attributes the invoking application put on the session. The answer goes back in Bedrock's
response format with the HTTP status and body the HTTP door would have answered, errors
included, so the model can read the error code and message and tell the user.

Who the agent acts for is the application's decision, never the model's: ``customer_id`` and
``conversation_id`` come from session attributes and override anything the model sent (the
conversation defaults to Bedrock's session id). Claim creation needs an idempotency key: the
session attribute ``idempotency_key`` when the application sets one per claim, else a key
derived from the session and the claim's content, so an action Bedrock retries in the same
session files the claim once.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from insurance_agent.catalog import Operation
from insurance_agent.context import CallContext
from insurance_agent.doors.base import Door, envelope_text
from insurance_agent.doors.direct import run_task
from insurance_agent.errors import InsuranceAgentError, RouteNotFound, ValidationFailed
from insurance_agent.json_body import parse_json_body
from insurance_agent.observability import logger
from insurance_agent.principal import Principal
from insurance_agent.validation import describe_errors, summarize_errors

MESSAGE_VERSION = "1.0"
CONTENT_TYPE = "application/json"
CALLER_ATTRIBUTES = ("conversation_id", "customer_id")
# Bedrock has been seen sending an object-typed value as Java's Map.toString(): {k=v, k=v}.
_JAVA_MAP = re.compile(r"^\{(.*)\}$", re.DOTALL)


def decode_value(value: str, kind: str) -> Any:
    """A property value as the model meant it: JSON for objects and arrays, else the string
    (pydantic turns "1800.00" into a Decimal and "true" into a bool)."""
    if kind not in ("object", "array"):
        return value
    try:
        return parse_json_body(value.encode("utf-8", "surrogatepass"))
    except ValidationFailed:
        pass  # not sound JSON (or too deep, or with duplicate keys): maybe Java's form
    flat = _JAVA_MAP.match(value.strip()) if kind == "object" else None
    if flat:
        pairs = [part.split("=", 1) for part in flat.group(1).split(", ") if part]
        if pairs and all(len(pair) == 2 for pair in pairs):
            return {key.strip(): item.strip() for key, item in pairs}
    return value  # left to validation, which names the field


def derived_idempotency_key(session_id: str, customer_id: Any, claim: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"session": session_id, "customer": customer_id, "claim": claim},
        sort_keys=True,
        default=str,
    )
    return "bedrock-" + hashlib.sha256(canonical.encode()).hexdigest()[:40]


def task_input(operation: Operation, event: Any) -> dict[str, Any]:
    """The direct-invocation task the event stands for: model values, then the caller's ids."""
    values = {p.name: p.value for p in event.parameters or []}
    media = event.request_body.content.get(CONTENT_TYPE) if event.request_body else None
    for prop in media.properties if media else []:
        values[prop.name] = decode_value(prop.value, prop.type_)
    for name in (*CALLER_ATTRIBUTES, "idempotency_key"):
        values.pop(name, None)  # never from the model
    session = event.session_attributes
    caller = {"conversation_id": session.get("conversation_id") or event.session_id}
    if session.get("customer_id"):
        caller["customer_id"] = session["customer_id"]
    if "idempotency_key" in operation.task_model.model_fields:
        caller["idempotency_key"] = session.get("idempotency_key") or derived_idempotency_key(
            event.session_id, caller.get("customer_id"), values
        )
    return values | caller


class BedrockDoor(Door):
    channel = "bedrock"

    def handle(self, event: Any, context: Any) -> dict[str, Any]:
        from aws_lambda_powertools.utilities.parser.models.bedrock_agent import (
            BedrockAgentEventModel,
        )

        operation = self.operation
        ctx = CallContext(
            request_id=envelope_text(getattr(context, "aws_request_id", None)) or "unknown",
            function_name=str(getattr(context, "function_name", "unknown")),
            channel="bedrock",
        )
        try:
            parsed = BedrockAgentEventModel.model_validate(event)
            agent_id, alias = envelope_text(parsed.agent.id_), envelope_text(parsed.agent.alias)
            if agent_id is None or alias is None:
                raise ValidationFailed("the event's agent id or alias is not a well-formed id")
        except (ValidationError, ValidationFailed) as exc:
            invalid = (
                exc
                if isinstance(exc, ValidationFailed)
                else _not_bedrock(describe_errors(exc.errors()))
            )
            return _refused(event, ctx, self.audited(ctx, invalid, invalid.details))
        ctx = replace(ctx, principal=Principal.bedrock_agent(agent_id, alias))
        status: int
        body: dict[str, Any]
        try:
            if (parsed.http_method.upper(), parsed.api_path) != (operation.method, operation.route):
                raise RouteNotFound(
                    f"{operation.intent} serves {operation.method} {operation.route}, "
                    f"not {parsed.http_method} {parsed.api_path}"
                )
            result = run_task(operation, self.runtime, ctx, task_input(operation, parsed))
            status, body = operation.success_status, result.model_dump(mode="json")
        except InsuranceAgentError as error:
            asked = {"api_path": parsed.api_path, "http_method": parsed.http_method}
            return _refused(event, ctx, self.audited(ctx, error, asked))
        return _response(event, status, body)


def _not_bedrock(described: list[dict[str, Any]]) -> ValidationFailed:
    return ValidationFailed(
        f"not a Bedrock action-group event: {summarize_errors(described)}",
        details={"errors": described},
    )


def _refused(event: dict[str, Any], ctx: CallContext, error: InsuranceAgentError) -> dict[str, Any]:
    if error.status >= 500:
        logger.warning("request failed", extra={"code": error.code, "status": error.status})
    return _response(event, error.status, error.body(ctx.request_id))


def _response(event: dict[str, Any], status: int, body: dict[str, Any]) -> dict[str, Any]:
    """Bedrock's response format; session attributes are handed back unchanged."""
    answer: dict[str, Any] = {
        "messageVersion": MESSAGE_VERSION,
        "response": {
            "actionGroup": event.get("actionGroup"),
            "apiPath": event.get("apiPath"),
            "httpMethod": event.get("httpMethod"),
            "httpStatusCode": status,
            "responseBody": {CONTENT_TYPE: {"body": json.dumps(body)}},
        },
    }
    for key in ("sessionAttributes", "promptSessionAttributes"):
        if isinstance(event.get(key), dict):
            answer[key] = event[key]
    return answer
