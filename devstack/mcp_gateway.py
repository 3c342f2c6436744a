"""A local AgentCore Gateway: MCP over streamable HTTP at http://127.0.0.1:3000/mcp.

What it does for each request, in AgentCore Gateway's order:

1. verifies the bearer token as the local HTTP API does (devstack.jwt_authorizer; a bad or
   missing token is answered 401 and nothing runs), then checks Host and Origin (the MCP
   SDK's DNS-rebinding protection: a loopback server answers loopback names only);
2. calls the REQUEST interceptor function (template.yaml's McpInterceptorFunction, loaded like
   every function) with Gateway's interceptor payload -- the JSON-RPC request and, as with
   ``passRequestHeaders: true``, the HTTP headers -- and carries on with the request it returns
   (or answers at once with the response it returns);
3. for ``tools/call`` on ``<target>___<tool>``, invokes the target's function exactly as a Gateway
   Lambda target is invoked: the event is the (transformed) arguments, and
   ``context.client_context.custom`` carries the ``bedrockAgentCore*`` keys; the function's
   JSON answer becomes the tool result's text, an unhandled function error an ``isError``
   result;
4. calls the RESPONSE interceptor with the JSON-RPC response, and answers what it returns.

The MCP side is the ``mcp`` SDK's: a lowlevel ``Server`` (tools/list, tools/call; ping,
initialize and server/discover are the SDK's own) behind its ``StreamableHTTPSessionManager``
in stateless JSON-response mode, which serves the stateless 2026-07-28 revision (no
``initialize``; ``MCP-Protocol-Version`` on every request) and the handshake revisions
2025-11-25, 2025-06-18 and 2025-03-26. The interceptors run as the Server's middleware, which
sees every request's method and raw params before validation. The SDK serves ASGI; the local
HTTP API is a ``http.server``: ``serve`` bridges one request from that server's thread to the
ASGI app running on an event loop of its own.

The functions run one invocation at a time per function (one warm container each), on the same
containers as the local HTTP API when it passes them in.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import queue
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError

from devstack.events import ClientContext, LambdaContext
from devstack.jwt_authorizer import UNAUTHORIZED_BODY, JwtAuthorizer, TokenRejected
from devstack.local_api import LocalApi, in_background
from devstack.mcp_tool_schema import TOOL_NAME_SEPARATOR, TOOLS, committed_tools
from devstack.stack import free_port
from devstack.template import FunctionSpec

Handler = Callable[[Any, Any], Any]
Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MCP_PATH = "/mcp"
INTERCEPTOR_FUNCTION = "McpInterceptorFunction"
INTERCEPTOR_VERSION = "1.0"
MESSAGE_VERSION = "1.0"
LOOPBACK_SECURITY = TransportSecuritySettings(
    enable_dns_rebinding_protection=True,
    allowed_hosts=["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*", "[::1]", "[::1]:*"],
    allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
)


# -- ids ------------------------------------------------------------------------------------


def gateway_id(name: str = "insurance-agent-local") -> str:
    """An id shaped like Gateway's (``<name>-<10 characters>``), stable for a name."""
    return f"{name}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"


def target_id(target: str) -> str:
    """A target id shaped like Gateway's (10 upper-case letters and digits), stable."""
    return hashlib.sha256(target.encode()).hexdigest()[:10].upper()


# -- functions on their containers -------------------------------------------------------------


def _container_thread() -> None:
    # Lambda runs the handler on the runtime's main thread, where asyncio finds a loop.
    asyncio.set_event_loop(asyncio.new_event_loop())


def container(name: str) -> ThreadPoolExecutor:
    """One warm container: one invocation at a time."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix=name, initializer=_container_thread)


@dataclass
class Function:
    spec: FunctionSpec
    handler: Handler
    executor: ThreadPoolExecutor

    async def invoke(self, event: Any, context: LambdaContext) -> Any:
        """Invoke as Lambda does: the payload and the answer cross as JSON."""
        payload = json.loads(json.dumps(event))
        future = self.executor.submit(self.handler, payload, context)
        answer = await asyncio.wrap_future(future)
        return json.loads(json.dumps(answer))

    def context(self, **extra: Any) -> LambdaContext:
        return LambdaContext(
            function_name=self.spec.logical_id,
            timeout_s=self.spec.timeout_s,
            memory_limit_in_mb=self.spec.memory_mb,
            **extra,
        )


@dataclass
class Target:
    """A Gateway Lambda target: its name, its tools (the inline schema) and its function."""

    name: str
    tools: list[dict[str, Any]]
    function: Function

    @property
    def target_id(self) -> str:
        return target_id(self.name)


# -- the gateway -----------------------------------------------------------------------------


class McpGateway:
    def __init__(
        self,
        targets: list[Target],
        *,
        interceptor: Function,
        authorizer: JwtAuthorizer,
        gateway_id: str = gateway_id(),
    ) -> None:
        self.targets = {t.name: t for t in targets}
        self.interceptor = interceptor
        self.authorizer = authorizer
        self.gateway_id = gateway_id
        self.server: Server[Any] = Server(
            "insurance-agent-gateway",
            version="1.0",
            instructions=(
                "Insurance tools for one customer at a time: look up a policy, file a claim "
                "(first notice of loss), summarise a policy's claims. Money is a decimal "
                'string with a currency, e.g. {"amount": "1250.00", "currency": "USD"}.'
            ),
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )
        self.server.middleware.append(self._intercept)
        self.sessions = StreamableHTTPSessionManager(
            app=self.server,
            json_response=True,
            stateless=True,
            security_settings=LOOPBACK_SECURITY,
        )
        self._portal: Any = None
        self._stack = contextlib.ExitStack()

    # -- MCP handlers

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[
                types.Tool.model_validate(
                    {**tool, "name": f"{target.name}{TOOL_NAME_SEPARATOR}{tool['name']}"}
                )
                for target in self.targets.values()
                for tool in target.tools
            ]
        )

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        target_name, _, tool_name = params.name.partition(TOOL_NAME_SEPARATOR)
        target = self.targets.get(target_name)
        if target is None or not any(t["name"] == tool_name for t in target.tools):
            raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name}")
        context = target.function.context(
            client_context=ClientContext(
                custom={
                    "bedrockAgentCoreToolName": params.name,
                    "bedrockAgentCoreMessageVersion": MESSAGE_VERSION,
                    "bedrockAgentCoreAwsRequestId": str(uuid.uuid4()),
                    "bedrockAgentCoreMcpMessageId": str(ctx.request_id),
                    "bedrockAgentCoreGatewayId": self.gateway_id,
                    "bedrockAgentCoreTargetId": target.target_id,
                }
            )
        )
        try:
            answer = await target.function.invoke(params.arguments or {}, context)
        except Exception as exc:  # noqa: BLE001 -- Lambda's FunctionError, reported as the tool's
            answer = {"errorMessage": str(exc), "errorType": type(exc).__name__}
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=json.dumps(answer))], is_error=True
            )
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(answer))], is_error=False
        )

    # -- interceptors

    async def _intercept(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
        # The SDK owns the initialize handshake (not rewritable); notifications have no answer.
        if ctx.request_id is None or ctx.method == "initialize":
            return await call_next(ctx)
        request_body: dict[str, Any] = {"jsonrpc": "2.0", "id": ctx.request_id}
        request_body["method"] = ctx.method
        if ctx.params is not None:
            request_body["params"] = dict(ctx.params)
        gateway_request = {
            "path": MCP_PATH,
            "httpMethod": "POST",
            "headers": _headers(ctx.request),
            "body": request_body,
        }
        raw = {"body": await _raw_body(ctx.request, request_body)}
        out = await self._interceptor_call(
            {"rawGatewayRequest": raw, "gatewayRequest": gateway_request}
        )
        if "transformedGatewayResponse" in out:
            return _result_or_raise(out["transformedGatewayResponse"]["body"])
        body = out["transformedGatewayRequest"]["body"]
        rewritten = replace(ctx, method=body["method"], params=body.get("params"))
        try:
            result = _wire(await call_next(rewritten))
            response_body: dict[str, Any] = {
                "jsonrpc": "2.0",
                "id": ctx.request_id,
                "result": result,
            }
        except MCPError as error:
            response_body = {
                "jsonrpc": "2.0",
                "id": ctx.request_id,
                "error": error.error.model_dump(mode="json", exclude_none=True),
            }
        out = await self._interceptor_call(
            {
                "rawGatewayRequest": raw,
                "gatewayRequest": {**gateway_request, "body": body},
                "gatewayResponse": {
                    "statusCode": 200,
                    "headers": {"content-type": "application/json"},
                    "body": response_body,
                },
            }
        )
        return _result_or_raise(out["transformedGatewayResponse"]["body"])

    async def _interceptor_call(self, mcp: dict[str, Any]) -> dict[str, Any]:
        event = {"interceptorInputVersion": INTERCEPTOR_VERSION, "mcp": mcp}
        try:
            output = await self.interceptor.invoke(event, self.interceptor.context())
        except Exception as exc:  # Gateway answers an interceptor failure itself
            failed = f"interceptor failed: {type(exc).__name__}"
            raise MCPError(types.INTERNAL_ERROR, failed) from exc
        if not isinstance(output, dict) or output.get("interceptorOutputVersion") != "1.0":
            raise MCPError(types.INTERNAL_ERROR, "interceptor answered no version 1.0 output")
        transformed: dict[str, Any] = output.get("mcp") or {}
        return transformed

    # -- HTTP

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Gateway's inbound JWT authorizer, then the SDK's streamable-HTTP transport."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            self.authorizer.verify(headers.get("authorization"))
        except TokenRejected as rejected:
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", rejected.challenge.encode("latin-1")),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": UNAUTHORIZED_BODY})
            return
        await self.sessions.handle_request(scope, receive, send)  # type: ignore[arg-type]

    def start(self) -> McpGateway:
        """Start the event loop the ASGI side runs on (a thread of its own)."""
        from anyio.from_thread import start_blocking_portal

        self._portal = self._stack.enter_context(start_blocking_portal())
        self._stack.enter_context(self._portal.wrap_async_context_manager(self.sessions.run()))
        return self

    def close(self) -> None:
        self._stack.close()
        self._portal = None

    def __enter__(self) -> McpGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def serve(self, request: BaseHTTPRequestHandler) -> None:
        """Answer one request that the local HTTP API's server read, through the ASGI app."""
        if self._portal is None:
            raise RuntimeError("McpGateway.start() was not called")
        length = int(request.headers.get("content-length") or 0)
        body = request.rfile.read(length) if length else b""
        url = urlsplit(request.path)
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.command,
            "scheme": "http",
            "path": url.path,
            "raw_path": url.path.encode(),
            "query_string": url.query.encode(),
            "root_path": "",
            "headers": [
                (k.lower().encode("latin-1"), v.encode("latin-1"))
                for k, v in request.headers.items()
            ],
            "client": request.client_address[:2],
            "server": request.connection.getsockname()[:2],
        }
        outbox: queue.Queue[Message | None] = queue.Queue()
        done = self._portal.call(asyncio.Event)
        delivered = False

        async def receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            outbox.put(message)

        future = self._portal.start_task_soon(self.asgi, scope, receive, send)
        future.add_done_callback(lambda _: outbox.put(None))
        try:
            _write_response(request, outbox)
        finally:
            self._portal.call(done.set)
            future.result()


def _write_response(request: BaseHTTPRequestHandler, outbox: queue.Queue[Message | None]) -> None:
    """Write the ASGI messages as they come: a body without a length goes out chunked."""
    chunked = False
    while (message := outbox.get()) is not None:
        if message["type"] == "http.response.start":
            request.send_response(message["status"])
            names = set()
            for name, value in message.get("headers", []):
                names.add(name.decode("latin-1").lower())
                request.send_header(name.decode("latin-1"), value.decode("latin-1"))
            if "content-length" not in names:
                chunked = True
                request.send_header("transfer-encoding", "chunked")
            request.end_headers()
        elif message["type"] == "http.response.body":
            data = message.get("body", b"")
            if chunked and data:
                request.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            elif data:
                request.wfile.write(data)
            if not message.get("more_body", False):
                if chunked:
                    request.wfile.write(b"0\r\n\r\n")
                request.wfile.flush()
                return
            request.wfile.flush()


def _headers(request: Any) -> dict[str, str]:
    """The HTTP request's headers, as Gateway passes them with ``passRequestHeaders``."""
    return dict(request.headers.items()) if request is not None else {}


async def _raw_body(request: Any, parsed: dict[str, Any]) -> str:
    if request is not None:
        with contextlib.suppress(Exception):
            raw: bytes = await request.body()
            return raw.decode("utf-8")
    return json.dumps(parsed)


def _wire(result: HandlerResult) -> dict[str, Any]:
    if result is None:
        return {}
    if isinstance(result, Mapping):
        return dict(result)
    dumped: dict[str, Any] = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    return dumped


def _result_or_raise(body: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-RPC response body as the SDK runner wants it: the result, or an MCPError."""
    if "error" in body:
        error = body["error"]
        raise MCPError(int(error["code"]), str(error["message"]), error.get("data"))
    result: dict[str, Any] = dict(body["result"])
    return result


# -- built from template.yaml ------------------------------------------------------------------


def gateway_for(
    specs: Mapping[str, FunctionSpec],
    handlers: Mapping[str, Handler],
    *,
    authorizer: JwtAuthorizer,
    containers: Mapping[str, ThreadPoolExecutor] | None = None,
) -> McpGateway:
    """The gateway in front of the functions loaded from template.yaml.

    Each target's tools are the generated definitions (schemas/mcp/, which a test holds equal to
    template.yaml's inline schemas); its function is the one whose handler serves the tool's
    operation. ``containers`` are the warm containers the local HTTP API already runs the
    functions on, by logical id; a function without one gets its own.
    """
    containers = dict(containers or {})
    if INTERCEPTOR_FUNCTION not in specs:
        raise LookupError(f"template.yaml declares no {INTERCEPTOR_FUNCTION}")

    def function(logical_id: str) -> Function:
        executor = containers.get(logical_id) or containers.setdefault(
            logical_id, container(logical_id)
        )
        return Function(specs[logical_id], handlers[logical_id], executor)

    serving = {
        operation.intent: logical_id
        for logical_id, handler in handlers.items()
        for operation in getattr(getattr(handler, "entry", None), "operations", ())
    }
    first_intent = {tool.target: intent for intent, tool in reversed(TOOLS.items())}
    targets = [
        Target(target, committed_tools(target), function(serving[intent]))
        for target, intent in first_intent.items()
    ]
    return McpGateway(targets, interceptor=function(INTERCEPTOR_FUNCTION), authorizer=authorizer)


def client_config(url: str, token_command: str) -> str:
    """How to point an MCP client at the gateway, for the ready line."""
    return (
        f"  claude mcp add --transport http insurance {url} "
        f'--header "Authorization: Bearer $({token_command})"\n'
        f'  or JSON: {{"mcpServers": {{"insurance": {{"type": "http", "url": "{url}", '
        f'"headers": {{"Authorization": "Bearer <{token_command}>"}}}}}}}}'
    )


@contextlib.contextmanager
def mounted(gateway: McpGateway, api: LocalApi) -> Iterator[str]:
    """``api`` with ``gateway`` at /mcp on a free loopback port: the gateway's URL."""
    api.mount(MCP_PATH, gateway)
    with gateway, in_background(api.serve(port=free_port())) as base:
        yield base + MCP_PATH
