"""A tool call through the local MCP gateway next to the same request through the local HTTP API.

Both over real HTTP on one loopback port (`make run`'s server: the local API with the gateway at
/mcp), to the same function, with the same bearer token, alternating request by request so the
machine's load falls on both alike. The MCP side is one ``tools/call`` JSON-RPC POST (stateless,
as an MCP client that already listed the tools sends it): the token check, the REQUEST
interceptor, the function, the RESPONSE interceptor. The HTTP side is
``POST /agent/claim-summary``. The difference is what the gateway path costs locally.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import httpx

from bench.stats import pct
from bench.workload import CALLERS, summary_body
from devstack.dev_identity import DevIdentityProvider, agent_identity
from devstack.lambda_runtime import load_handler
from devstack.local_api import LocalApi
from devstack.mcp_gateway import MCP_PATH, gateway_for, mounted
from devstack.template import functions, layer_dirs

TOOL = "claim-summary___get_claim_summary"
PROTOCOL_VERSION = "2025-11-25"


def tool_call(n: int, conversation_id: str) -> dict[str, Any]:
    """The JSON-RPC ``tools/call`` an MCP client sends for the claim summary."""
    customer, _ = CALLERS["claim_summary"]
    arguments = summary_body() | {"conversation_id": conversation_id, "customer_id": customer}
    return {
        "jsonrpc": "2.0",
        "id": n,
        "method": "tools/call",
        "params": {"name": TOOL, "arguments": arguments},
    }


def summarize(times_ms: dict[str, list[float]], failures: dict[str, int]) -> dict[str, Any]:
    return {
        door: {
            "requests": len(times),
            "failures": failures.get(door, 0),
            "p50_ms": pct(times, 50),
            "p99_ms": pct(times, 99),
        }
        for door, times in times_ms.items()
    }


def tool_succeeded(response: httpx.Response) -> bool:
    if response.status_code != 200:
        return False
    body = response.json()
    return "result" in body and not body["result"].get("isError")


@contextlib.contextmanager
def local_server() -> Iterator[tuple[str, str]]:
    """The local API with the gateway mounted, as `make run` serves them: (base URL, token)."""
    specs = functions()
    bound = [(spec, load_handler(spec, extra_paths=layer_dirs())) for spec in specs.values()]
    identity = DevIdentityProvider.generate()
    api = LocalApi(bound, authorizer=identity.authorizer())
    gateway = gateway_for(
        specs,
        {spec.logical_id: handler for spec, handler in bound},
        authorizer=identity.authorizer(),
        containers=api.containers(),
    )
    with mounted(gateway, api) as url:
        yield url.removesuffix(MCP_PATH), identity.token(agent_identity("bench-agent"))


def measure(requests: int, warmup: int = 5) -> dict[str, Any]:
    """p50/p99 of each door over ``requests`` alternating calls (run in the functions' env)."""
    customer, _ = CALLERS["claim_summary"]
    times: dict[str, list[float]] = {"http": [], "mcp": []}
    failures: dict[str, int] = {}
    with local_server() as (base, token), httpx.Client(timeout=30.0) as client:
        auth = {"Authorization": f"Bearer {token}"}
        for n in range(warmup + requests):
            conversation = f"bench-mcp-{n // 50}"
            t = time.perf_counter()
            http = client.post(
                f"{base}/agent/claim-summary",
                json=summary_body(),
                headers=auth | {"X-Conversation-Id": conversation, "X-Customer-Id": customer},
            )
            http_ms = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            mcp = client.post(
                f"{base}{MCP_PATH}",
                json=tool_call(n, conversation),
                headers=auth
                | {
                    "Accept": "application/json, text/event-stream",
                    "MCP-Protocol-Version": PROTOCOL_VERSION,
                },
            )
            mcp_ms = (time.perf_counter() - t) * 1000
            if n < warmup:
                continue
            for door, ok, ms in (
                ("http", http.status_code == 200, http_ms),
                ("mcp", tool_succeeded(mcp), mcp_ms),
            ):
                times[door].append(ms)
                if not ok:
                    failures[door] = failures.get(door, 0) + 1
    return summarize(times, failures)


def render(result: dict[str, Any]) -> list[str]:
    lines = [
        "## MCP gateway vs HTTP API (local, claim summary)",
        "",
        "The same request through the local HTTP API and as a `tools/call` through the local MCP "
        "gateway (token check, REQUEST interceptor, function, RESPONSE interceptor), over real "
        "HTTP, alternating.",
        "",
        "| door | requests | failures | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for door, label in (("http", "HTTP API `POST /agent/claim-summary`"), ("mcp", f"MCP `{TOOL}`")):
        r = result[door]
        figures = f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f}"
        lines.append(f"| {label} | {r['requests']} | {r['failures']} | {figures} |")
    return lines
