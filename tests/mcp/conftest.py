"""The local MCP gateway in front of the real functions, loaded from template.yaml like
`make run` loads them, over real HTTP on a free loopback port, beside the local HTTP API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from devstack.lambda_runtime import load_handler
from devstack.local_api import LocalApi
from devstack.mcp_gateway import INTERCEPTOR_FUNCTION, gateway_for, mounted
from devstack.template import functions, layer_dirs
from tests.conftest import session_identity
from tests.integration.conftest import api_url, handlers

__all__ = ["api_url", "handlers"]

Handler = Callable[[Any, Any], Any]


async def mcp_session(
    url: str, bearer: str | None, calls: Callable[[Client], Awaitable[Any]], mode: str = "auto"
) -> Any:
    """``calls`` on an MCP SDK client connected over streamable HTTP with ``bearer``."""
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    try:
        async with (
            httpx2.AsyncClient(headers=headers) as http,
            Client(streamable_http_client(url, http_client=http), mode=mode) as client,
        ):
            return await calls(client)
    except BaseExceptionGroup as group:  # the transport's task groups wrap what the call raised
        only: BaseException = group
        while isinstance(only, BaseExceptionGroup) and len(only.exceptions) == 1:
            only = only.exceptions[0]
        raise only from None


def run_mcp(
    url: str, bearer: str | None, calls: Callable[[Client], Awaitable[Any]], **kw: Any
) -> Any:
    return asyncio.run(mcp_session(url, bearer, calls, **kw))


@pytest.fixture(scope="session")
def gateway_url(handlers: dict[str, Handler]) -> Iterator[str]:
    specs = functions()
    # Not a skip: the interceptor is part of the gateway; without it nothing here is tested.
    assert INTERCEPTOR_FUNCTION in specs, (
        f"template.yaml declares no {INTERCEPTOR_FUNCTION} (functions/mcp_interceptor, "
        "handler app.handler): the local gateway runs the interceptor the template names"
    )
    loaded = dict(handlers)
    loaded[INTERCEPTOR_FUNCTION] = load_handler(
        specs[INTERCEPTOR_FUNCTION], extra_paths=layer_dirs()
    )
    authorizer = session_identity().authorizer()
    api = LocalApi([(specs[n], loaded[n]) for n in specs if n in loaded], authorizer=authorizer)
    gateway = gateway_for(specs, loaded, authorizer=authorizer, containers=api.containers())
    with mounted(gateway, api) as url:
        yield url
