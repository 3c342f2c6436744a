"""The AgentCore Gateway interceptor (REQUEST and RESPONSE) in front of the three tools.

REQUEST, for a ``tools/call``: reads the claims of the bearer token Gateway has verified (its
inbound JWT authorizer checked signature, issuer, audience and expiry; ``passRequestHeaders``
hands us the header), maps them to a principal exactly as the HTTP door does, removes any
``caller_assertion`` the agent wrote into the arguments and adds a signed one
(doors/caller_assertion.py). It never answers a call itself: a token that names no one is
asserted "unscoped", so the tool function refuses it and the refusal has its audit row.

RESPONSE, for a ``tools/call``: the tool's JSON answer comes back from Gateway as text content;
an answer that is our error body is marked ``isError`` (so the agent's client treats it as a
failed call carrying our code, message and request id), a success also gets
``structuredContent`` (the parsed JSON, which MCP asks for when a tool declares an
``outputSchema``).

Payload formats: AgentCore developer guide, "Types of interceptors" (interceptorInputVersion and
interceptorOutputVersion "1.0").
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from insurance_agent.api_key import mcp_caller_key_provider
from insurance_agent.doors.caller_assertion import ARGUMENT, AssertedKind, CallerAssertion, sign
from insurance_agent.errors import Forbidden, InsuranceAgentError
from insurance_agent.observability import logger
from insurance_agent.principal import ClaimNames, principal_from_claims, scopes_in_claims
from insurance_agent.settings import Settings, get_settings

OUTPUT_VERSION = "1.0"


def bearer_claims(authorization: Any) -> dict[str, Any] | None:
    """The claims of a bearer JWT whose signature Gateway has already verified; None when the
    header holds no readable token. Decoding a JWT's payload is base64url and JSON: done here
    rather than with a JWT library the layer would otherwise not need."""
    if not isinstance(authorization, str):
        return None
    scheme, _, token = authorization.strip().partition(" ")
    parts = token.strip().split(".")
    if scheme.lower() != "bearer" or len(parts) != 3:
        return None
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def assert_caller(
    claims: Mapping[str, Any] | None, names: ClaimNames, *, tool: str, expires_at: int
) -> CallerAssertion:
    kind: AssertedKind
    customer_id: str | None = None
    refusal: str | None = None
    subject = "?"
    try:
        if not claims:
            raise Forbidden("no verified identity reached the interceptor")
        principal = principal_from_claims(claims, scopes_in_claims(claims), names)
        kind = "customer" if principal.kind == "customer" else "agent"
        subject = principal.name.split(":", 1)[1]
        customer_id = principal.customer_id
    except InsuranceAgentError as refused:
        kind, refusal = "unscoped", refused.message
        for name in names.subject:
            value = (claims or {}).get(name)
            if isinstance(value, str) and value.isprintable() and len(value) <= 128:
                subject = value
                break
    return CallerAssertion(
        kind=kind,
        subject=subject,
        tool=tool,
        expires_at=expires_at,
        customer_id=customer_id,
        refusal=refusal,
    )


class GatewayInterceptor:
    """``handler`` is what Lambda calls, for REQUEST and RESPONSE interception alike."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._key: Callable[[], str] | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = get_settings()
        return self._settings

    def handler(self, event: Any, context: Any) -> dict[str, Any]:
        mcp = event.get("mcp") if isinstance(event, Mapping) else None
        mcp = mcp if isinstance(mcp, Mapping) else {}
        if mcp.get("gatewayResponse") is not None:
            return self.on_response(mcp)
        return self.on_request(mcp)

    def on_request(self, mcp: Mapping[str, Any]) -> dict[str, Any]:
        request = mcp.get("gatewayRequest") or {}
        body = request.get("body")
        if isinstance(body, Mapping) and _method(body) == "tools/call":
            body = self._with_assertion(body, request.get("headers") or {})
        return {
            "interceptorOutputVersion": OUTPUT_VERSION,
            "mcp": {"transformedGatewayRequest": {"body": body}},
        }

    def on_response(self, mcp: Mapping[str, Any]) -> dict[str, Any]:
        response = mcp.get("gatewayResponse") or {}
        body = response.get("body")
        request_body = (mcp.get("gatewayRequest") or {}).get("body")
        if _method(request_body) in ("tools/call", None) and isinstance(body, Mapping):
            body = _mark_tool_result(body)
        return {
            "interceptorOutputVersion": OUTPUT_VERSION,
            "mcp": {
                "transformedGatewayResponse": {
                    "statusCode": response.get("statusCode", 200),
                    "body": body,
                }
            },
        }

    def _with_assertion(self, body: Mapping[str, Any], headers: Mapping[str, Any]) -> Any:
        params = body.get("params")
        if not isinstance(params, Mapping) or not isinstance(params.get("name"), str):
            return body  # Gateway answers a malformed call itself
        arguments = params.get("arguments")
        arguments = dict(arguments) if isinstance(arguments, Mapping) else {}
        if arguments.pop(ARGUMENT, None) is not None:
            logger.warning("an agent sent its own caller assertion; replaced")
        authorization = next(
            (v for k, v in headers.items() if str(k).lower() == "authorization"), None
        )
        assertion = assert_caller(
            bearer_claims(authorization),
            self.settings.claim_names,
            tool=params["name"],
            expires_at=int(time.time()) + self.settings.mcp_assertion_ttl_s,
        )
        if self._key is None:
            self._key = mcp_caller_key_provider(self.settings)
        arguments[ARGUMENT] = sign(assertion, self._key())
        return dict(body) | {"params": dict(params) | {"arguments": arguments}}


def _method(body: Any) -> str | None:
    return body.get("method") if isinstance(body, Mapping) else None


def _mark_tool_result(body: Mapping[str, Any]) -> Mapping[str, Any]:
    result = body.get("result")
    if not isinstance(result, Mapping) or result.get("isError"):
        return body
    content = result.get("content")
    if not isinstance(content, list) or len(content) != 1 or not isinstance(content[0], Mapping):
        return body
    text = content[0].get("text")
    try:
        answer = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return body
    if not isinstance(answer, dict):
        return body
    error = answer.get("error")
    marked = dict(result)
    if isinstance(error, Mapping) and "code" in error and len(answer) == 1:
        marked["isError"] = True
    else:
        marked["structuredContent"] = answer
    return dict(body) | {"result": marked}
