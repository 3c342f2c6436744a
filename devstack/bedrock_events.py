"""Bedrock Agent action-group events (OpenAPI-schema style), as Bedrock sends them to Lambda."""

from __future__ import annotations

import json
import uuid
from typing import Any


def bedrock_event(
    api_path: str,
    http_method: str,
    *,
    parameters: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
    session_attributes: dict[str, str] | None = None,
    action_group: str = "insurance-tools",
    session_id: str | None = None,
    input_text: str = "",
) -> dict[str, Any]:
    """Every value is a string, as Bedrock sends them; objects go as JSON text."""
    event: dict[str, Any] = {
        "messageVersion": "1.0",
        "agent": {
            "name": "claims-assistant",
            "id": "AGENT12345",
            "alias": "TSTALIASID",
            "version": "DRAFT",
        },
        "inputText": input_text,
        "sessionId": session_id or f"session-{uuid.uuid4().hex[:12]}",
        "actionGroup": action_group,
        "apiPath": api_path,
        "httpMethod": http_method,
        "parameters": [
            {"name": name, "type": "string", "value": value}
            for name, value in (parameters or {}).items()
        ],
        "sessionAttributes": dict(session_attributes or {}),
        "promptSessionAttributes": {},
    }
    if body is not None:
        event["requestBody"] = {
            "content": {
                "application/json": {
                    "properties": [_property(name, value) for name, value in body.items()]
                }
            }
        }
    return event


def _property(name: str, value: Any) -> dict[str, str]:
    if isinstance(value, dict | list):
        return {
            "name": name,
            "type": "object" if isinstance(value, dict) else "array",
            "value": json.dumps(value),
        }
    return {"name": name, "type": "string", "value": str(value)}


def response_json(response: dict[str, Any]) -> Any:
    """The JSON body of a Bedrock action-group response."""
    return json.loads(response["response"]["responseBody"]["application/json"]["body"])
