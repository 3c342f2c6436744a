"""Lambda events and contexts as AWS builds them, for the local API, tests and benchmarks."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class ClientContext:
    """``context.client_context`` as the Python runtime builds it from the invoker's
    ClientContext (base64 JSON with "custom", "env" and "client")."""

    custom: dict[str, Any] | None = None
    env: dict[str, Any] | None = None
    client: Any = None

    @classmethod
    def from_header(cls, value: str | None) -> ClientContext | None:
        """From the ``X-Amz-Client-Context`` an invoker sends (base64 JSON), or None."""
        if not value:
            return None
        decoded = json.loads(base64.b64decode(value))
        return cls(decoded.get("custom"), decoded.get("env"), decoded.get("client"))


@dataclass
class LambdaContext:
    """The attributes of the Python runtime's context object that our code and Powertools read."""

    function_name: str = "local-function"
    memory_limit_in_mb: int = 512
    timeout_s: float = 10.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local"
    log_stream_name: str = "local"
    # What the invoker put in its ClientContext: AgentCore Gateway's tool name and ids, or the
    # state machine's door; None for API Gateway and plain invocations.
    client_context: ClientContext | None = None
    identity: Any = None
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._started)) * 1000))


def http_api_event(
    method: str,
    path: str,
    *,
    route_key: str | None = None,
    path_parameters: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
    body: bytes | str | None = None,
    jwt_claims: dict[str, Any] | None = None,
    jwt_scopes: list[str] | None = None,
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload v2.0 event; ``jwt_claims`` as the JWT authorizer passes
    them (devstack.jwt_authorizer.gateway_claims), None for a route without one."""
    now = datetime.now(UTC)
    lower = {k.lower(): v for k, v in (headers or {}).items()}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": lower,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": lower.get("host", "127.0.0.1:3000"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lower.get("user-agent", ""),
            },
            "requestId": request_id or uuid.uuid4().hex[:16] + "=",
            "routeKey": route_key or f"{method} {path}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if query:
        from urllib.parse import parse_qsl

        event["queryStringParameters"] = dict(parse_qsl(query, keep_blank_values=True))
    if path_parameters:
        event["pathParameters"] = path_parameters
    if jwt_claims is not None:
        event["requestContext"]["authorizer"] = {
            "jwt": {"claims": jwt_claims, "scopes": jwt_scopes}
        }
    if body is not None:
        raw = body.encode() if isinstance(body, str) else body
        try:
            event["body"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(raw).decode()
            event["isBase64Encoded"] = True
    return event


def response_body(response: dict[str, Any]) -> bytes:
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode() if isinstance(body, str) else bytes(body)


def agentcore_context(
    function_name: str,
    tool: str,
    *,
    gateway_id: str = "local-gateway",
    mcp_message_id: str | int = 1,
    timeout_s: float = 10.0,
) -> LambdaContext:
    """The context AgentCore Gateway gives a Lambda target for ``tool`` (``<target>___<tool>``):
    its ids in ``client_context.custom`` (AgentCore developer guide, "Add a Lambda target")."""
    request_id = str(uuid.uuid4())
    target = tool.partition("___")[0]
    return LambdaContext(
        function_name=function_name,
        timeout_s=timeout_s,
        client_context=ClientContext(
            custom={
                "bedrockAgentCoreMessageVersion": "1.0",
                "bedrockAgentCoreAwsRequestId": request_id,
                "bedrockAgentCoreMcpMessageId": str(mcp_message_id),
                "bedrockAgentCoreGatewayId": gateway_id,
                "bedrockAgentCoreTargetId": f"{target}-target",
                "bedrockAgentCoreToolName": tool,
            }
        ),
    )


def interceptor_request_event(body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """What Gateway sends a REQUEST interceptor configured with passRequestHeaders (AgentCore
    developer guide, "Types of interceptors")."""
    return {
        "interceptorInputVersion": "1.0",
        "mcp": {
            "rawGatewayRequest": {"body": json.dumps(body)},
            "gatewayRequest": {
                "path": "/mcp",
                "httpMethod": "POST",
                "headers": headers,
                "body": body,
            },
        },
    }


def interceptor_response_event(
    request_body: dict[str, Any], response_body: dict[str, Any], status: int = 200
) -> dict[str, Any]:
    """What Gateway sends a RESPONSE interceptor: the request and the response it would give."""
    return {
        "interceptorInputVersion": "1.0",
        "mcp": {
            "gatewayRequest": {"path": "/mcp", "httpMethod": "POST", "body": request_body},
            "gatewayResponse": {"statusCode": status, "body": response_body},
        },
    }
