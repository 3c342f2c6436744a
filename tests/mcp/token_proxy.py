"""A loopback reverse proxy that adds a development bearer token to every request.

The MCP conformance suite's client sends no Authorization header. Rather than open the gateway,
the suite talks to this proxy, which forwards each request unchanged (Host and Origin included,
so the gateway's DNS-rebinding checks see what the suite sent) plus the token.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx

from devstack.local_api import in_background
from devstack.stack import free_port

# Per connection, not per message (RFC 9110 7.6.1): never forwarded.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "content-length"}


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The suite drops keep-alive connections without a word between scenarios.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def token_proxy(upstream: str, token: str) -> Iterator[str]:
    """Serve the proxy on a free loopback port: its URL, with ``upstream``'s path."""
    target = urlsplit(upstream)
    client = httpx.Client(timeout=60.0)

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            headers["Authorization"] = f"Bearer {token}"
            url = f"{target.scheme}://{target.netloc}{self.path}"
            answer = client.request(self.command, url, headers=headers, content=body)
            self.send_response(answer.status_code)
            for name, value in answer.headers.multi_items():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("content-length", str(len(answer.content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.content)

        do_GET = do_POST = do_DELETE = do_HEAD = do_OPTIONS = _forward

        def log_message(self, format: str, *args: Any) -> None:
            pass

    try:
        with in_background(QuietServer(("127.0.0.1", free_port()), Forward)) as base:
            yield base + target.path
    finally:
        client.close()
