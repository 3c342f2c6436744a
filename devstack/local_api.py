"""A local HTTP API on 127.0.0.1:3000 that behaves like API Gateway in front of the functions.

Each request is matched against the routes in template.yaml, its bearer token verified the
way the template's JWT authorizer does (devstack.jwt_authorizer: a bad or missing token is
answered 401 here and no function runs), turned into an HTTP API v2 event with the token's
claims in ``requestContext.authorizer.jwt``, and passed to the function's handler exactly as
Lambda would, one invocation at a time per function (one warm container each).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from devstack.events import LambdaContext, http_api_event, response_body
from devstack.jwt_authorizer import UNAUTHORIZED_BODY, JwtAuthorizer, TokenRejected
from devstack.template import FunctionSpec, Route

Handler = Callable[[Any, Any], Any]

# API Gateway HTTP APIs refuse a request payload over 10 MB (AWS: "Amazon API Gateway quotas",
# HTTP APIs) with 413 before any function runs.
MAX_BODY_BYTES = 10 * 1024 * 1024
# A client that stops sending mid-request is cut off instead of holding a thread for ever.
READ_TIMEOUT_S = 30.0


def gateway_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Request headers as an HTTP API (payload 2.0) passes them: names lower-cased, and a
    header sent more than once joined with commas, never the last one alone (AWS: "Create AWS
    Lambda proxy integrations for HTTP APIs", payload format differences)."""
    joined: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


def _container_thread() -> None:
    # Lambda runs the handler on the runtime's main thread, where asyncio (and so Mangum)
    # finds an event loop; a worker thread needs one set explicitly.
    asyncio.set_event_loop(asyncio.new_event_loop())


@dataclass
class BoundRoute:
    route: Route
    pattern: re.Pattern[str]
    spec: FunctionSpec
    handler: Handler
    container: ThreadPoolExecutor

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.route.method:
            return None
        m = self.pattern.fullmatch(path)
        return m.groupdict() if m else None


def compile_path(path: str) -> re.Pattern[str]:
    """``/policies/{policy_number}`` -> a regex with one named group per path parameter."""
    parts = re.split(r"(\{[^}]+\})", path)
    regex = "".join(
        f"(?P<{p[1:-1].rstrip('+')}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts
    )
    return re.compile(regex)


class Mount(Protocol):
    def serve(self, request: BaseHTTPRequestHandler) -> None: ...


_BAD_REQUEST = json.dumps({"message": "Bad Request"}).encode()
_TOO_LARGE = json.dumps({"message": "Request Entity Too Large"}).encode()


class LocalApi:
    def __init__(
        self, bound: list[tuple[FunctionSpec, Handler]], *, authorizer: JwtAuthorizer
    ) -> None:
        self.authorizer = authorizer
        # Paths served by something other than the routes (the MCP gateway at /mcp).
        self.mounts: dict[str, Mount] = {}
        self.routes: list[BoundRoute] = []
        for spec, handler in bound:
            # One thread per function: one warm container, one invocation at a time.
            container = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=spec.logical_id, initializer=_container_thread
            )
            for route in spec.routes:
                self.routes.append(
                    BoundRoute(route, compile_path(route.path), spec, handler, container)
                )

    def mount(self, prefix: str, app: Mount) -> None:
        self.mounts[prefix] = app

    def mount_for(self, raw_path: str) -> Mount | None:
        path = raw_path.partition("?")[0]
        return next(
            (app for p, app in self.mounts.items() if path == p or path.startswith(p + "/")), None
        )

    def containers(self) -> dict[str, ThreadPoolExecutor]:
        """Each function's warm container, by logical id, for another door to share."""
        return {bound.spec.logical_id: bound.container for bound in self.routes}

    def invoke(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        path, _, query = raw_path.partition("?")
        for bound in self.routes:
            params = bound.match(method, path)
            if params is None:
                continue
            authorization = next(
                (v for k, v in headers.items() if k.lower() == "authorization"), None
            )
            try:
                verified = self.authorizer.verify(authorization)
            except TokenRejected as rejected:
                return (
                    401,
                    {"content-type": "application/json", "www-authenticate": rejected.challenge},
                    UNAUTHORIZED_BODY,
                )
            event = http_api_event(
                method,
                path,
                route_key=f"{bound.route.method} {bound.route.path}",
                path_parameters=params or None,
                headers=headers,
                query=query,
                body=body if body else None,
                jwt_claims=verified["claims"],
                jwt_scopes=verified["scopes"],
            )
            context = LambdaContext(
                function_name=bound.spec.logical_id,
                timeout_s=bound.spec.timeout_s,
                memory_limit_in_mb=bound.spec.memory_mb,
            )
            response = bound.container.submit(bound.handler, event, context).result()
            return (
                int(response.get("statusCode", 200)),
                {str(k): str(v) for k, v in (response.get("headers") or {}).items()},
                response_body(response),
            )
        # API Gateway answers unknown routes itself, without invoking a function.
        return (
            404,
            {"content-type": "application/json"},
            json.dumps({"message": "Not Found"}).encode(),
        )

    def serve(self, host: str = "127.0.0.1", port: int = 3000) -> ThreadingHTTPServer:
        api = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            # StreamRequestHandler puts this on the socket: every read may wait this long.
            timeout = READ_TIMEOUT_S

            def _handle(self) -> None:
                if (mounted := api.mount_for(self.path)) is not None:
                    mounted.serve(self)
                    return
                try:
                    length = int(self.headers.get("content-length") or 0)
                except ValueError:
                    length = -1
                if length < 0:
                    self.close_connection = True
                    self._answer(400, {"content-type": "application/json"}, _BAD_REQUEST)
                    return
                if length > MAX_BODY_BYTES:
                    # Not read: the connection is closed after the answer.
                    self.close_connection = True
                    self._answer(413, {"content-type": "application/json"}, _TOO_LARGE)
                    return
                body = self.rfile.read(length) if length else None
                if body is not None and len(body) < length:
                    self.close_connection = True  # the client hung up mid-body
                    return
                headers = gateway_headers(self.headers.items())
                status, out_headers, payload = api.invoke(self.command, self.path, headers, body)
                self._answer(status, out_headers, payload)

            def _answer(self, status: int, out_headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for name, value in out_headers.items():
                    if name.lower() not in ("content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                if self.close_connection:
                    self.send_header("connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def __getattr__(self, name: str) -> Any:
                # Every method (http.server looks up do_<METHOD>) reaches the route table, so
                # one no route serves is answered as API Gateway answers it (404), not with 501.
                if name.startswith("do_"):
                    return self._handle
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the functions log; the gateway stays quiet

        server = ThreadingHTTPServer((host, port), RequestHandler)
        server.daemon_threads = True
        return server


@contextlib.contextmanager
def in_background(server: ThreadingHTTPServer) -> Iterator[str]:
    """``server`` answering on a daemon thread: its loopback base URL; shut down after."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
