"""What ``make run`` serves beside the three routes, for a person at the keyboard.

- ``GET /docs`` and ``GET /openapi.json``: the three functions' OpenAPI documents merged into
  one, with the bearer scheme, and Swagger UI (served from the ``fastapi-offline`` wheel's
  copy: no CDN) so a call can be tried from a browser;
- ``GET /health``: the database, the upstream and the functions loaded, 200 or 503;
- one request-log line per request in the terminal: method, path, status, duration, request
  id, principal, and why a 401 was refused (API Gateway keeps the reason in a header).

These routes belong to the local stack only: API Gateway serves none of them in AWS.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

from devstack.jwt_authorizer import TokenRejected
from devstack.local_api import Handler, LocalApi
from devstack.template import FunctionSpec

Answer = tuple[int, dict[str, str], bytes]
BEARER_HINT = (
    "A development token for the running stack: `make -s token CUSTOMER=cust-7788` (a customer)"
    " or `make -s token AGENT=1` (an agent, which names the customer in X-Customer-Id)."
)


def merged_openapi() -> dict[str, Any]:
    """One OpenAPI document for the three routes, as the functions' FastAPI apps describe them."""
    from insurance_agent.catalog import OPERATIONS

    from devstack.action_group_schema import http_openapi

    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Insurance API for AI agents (local stack)",
            "version": "local",
            "description": "The three functions behind `make run`. " + BEARER_HINT,
        },
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": BEARER_HINT,
                }
            },
        },
        "security": [{"bearer": []}],
    }
    for intent in OPERATIONS:
        doc = http_openapi(intent)
        merged["paths"].update(doc.get("paths", {}))
        merged["components"]["schemas"].update(doc.get("components", {}).get("schemas", {}))
    return merged


def _swagger_static() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).resolve().parent / "static"


STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def _docs_page() -> bytes:
    from fastapi.openapi.docs import get_swagger_ui_html

    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Insurance API for AI agents (local) - docs",
        swagger_js_url="/docs/swagger-ui-bundle.js",
        swagger_css_url="/docs/swagger-ui.css",
        swagger_favicon_url="/docs/favicon.png",
        swagger_ui_parameters={"persistAuthorization": True},
    )
    return bytes(page.body)


class DevApi(LocalApi):
    """The local API plus the pages above; every answer logged by ``log``."""

    def __init__(
        self,
        bound: list[tuple[FunctionSpec, Handler]],
        *,
        authorizer: Any,
        database_url: str,
        upstream_url: str,
        log: Callable[[str], None] | None = print,
    ) -> None:
        super().__init__(bound, authorizer=authorizer)
        self.database_url = database_url
        self.upstream_url = upstream_url
        self.functions = [spec.logical_id for spec, _ in bound]
        self.log = log

    def invoke(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes | None
    ) -> Answer:
        started = time.perf_counter()
        path = raw_path.partition("?")[0]
        page = self._page(method, path)
        answer = page if page is not None else super().invoke(method, raw_path, headers, body)
        if self.log is not None:
            elapsed_ms = (time.perf_counter() - started) * 1000
            self.log(self._log_line(method, path, answer, elapsed_ms, headers, page is None))
        return answer

    def _page(self, method: str, path: str) -> Answer | None:
        if method not in ("GET", "HEAD"):
            return None
        if path == "/openapi.json":
            return 200, {"content-type": "application/json"}, self._openapi()
        if path in ("/docs", "/docs/"):
            return 200, {"content-type": "text/html; charset=utf-8"}, self._docs()
        if path.startswith("/docs/"):
            name = path.removeprefix("/docs/")
            file = _swagger_static() / name
            if "/" in name or file.suffix not in STATIC_TYPES or not file.is_file():
                return None
            return 200, {"content-type": STATIC_TYPES[file.suffix]}, file.read_bytes()
        if path == "/health":
            report = self.health()
            status = 200 if report["status"] == "ok" else 503
            return status, {"content-type": "application/json"}, json.dumps(report).encode()
        return None

    @functools.cache  # noqa: B019 - one document per run of the stack
    def _openapi(self) -> bytes:
        return json.dumps(merged_openapi()).encode()

    @functools.cache  # noqa: B019
    def _docs(self) -> bytes:
        return _docs_page()

    def health(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            with psycopg.connect(self.database_url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            checks["database"] = "ok"
        except psycopg.Error as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            # The reference service answers /healthz; any answer below 500 means it is up.
            status = httpx.get(f"{self.upstream_url.rstrip('/')}/healthz", timeout=2).status_code
            checks["upstream"] = "ok" if status < 500 else f"answered {status}"
        except httpx.HTTPError as exc:
            checks["upstream"] = f"unreachable: {type(exc).__name__}"
        ok = checks["database"] == "ok" and checks["upstream"] == "ok"
        return {
            "status": "ok" if ok else "degraded",
            **checks,
            "upstream_url": self.upstream_url,
            "functions": self.functions,
        }

    def _log_line(
        self,
        method: str,
        path: str,
        answer: Answer,
        elapsed_ms: float,
        headers: dict[str, str],
        routed: bool,
    ) -> str:
        status, out_headers, _ = answer
        lower = {k.lower(): v for k, v in out_headers.items()}
        parts = [f"{method} {path} {status} {elapsed_ms:.1f}ms"]
        if "x-request-id" in lower:
            parts.append(f"request={lower['x-request-id']}")
        if routed and status != 404:
            parts.append(self._principal(headers))
        return "  ".join(parts)

    def _principal(self, headers: dict[str, str]) -> str:
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        try:
            verified = self.authorizer.verify(authorization)
        except TokenRejected as rejected:
            reason = rejected.args[0] if rejected.args else "no bearer token"
            return f'principal=- refused="{reason}"'
        from insurance_agent.principal import refused_principal

        principal = refused_principal(verified)
        return f"principal={principal.name if principal else '-'}"
