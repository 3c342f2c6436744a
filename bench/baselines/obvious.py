"""Baseline (b): the obvious implementation of the same function.

Everything imported and built at module top (FastAPI app, Mangum, httpx client, psycopg pool),
Powertools Logger, Metrics and Tracer (X-Ray SDK, modules patched) decorating one handler that
sends HTTP events to Mangum and anything else to the direct door. The operations and models
are the layer's own, so the difference to ours is the loading, not the logic.
``BENCH_OPERATION`` (policy_lookup, claim_create, claim_summary) says which function it is.
"""

import asyncio
import os
from typing import Any

import httpx  # noqa: F401 -- imported eagerly on purpose: this is the obvious way
import psycopg  # noqa: F401
import psycopg_pool  # noqa: F401
from aws_lambda_powertools import Logger, Metrics, Tracer
from fastapi import FastAPI  # noqa: F401
from insurance_agent.catalog import OPERATIONS
from insurance_agent.doors.direct import DirectDoor
from insurance_agent.runtime import ContainerRuntime
from insurance_agent.web import apps
from mangum import Mangum

tracer = Tracer()
logger = Logger()
metrics = Metrics()

operation = OPERATIONS[os.environ.get("BENCH_OPERATION", "policy_lookup")]
runtime = ContainerRuntime()
services = runtime.services  # client and pool built at import
app = getattr(apps, operation.http_app.split(":")[1])(runtime)
asyncio.set_event_loop(asyncio.new_event_loop())
asgi = Mangum(app, lifespan="off")
direct = DirectDoor(operation, runtime)


@tracer.capture_lambda_handler
@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> Any:
    if "requestContext" in event:
        return asgi(event, context)
    return direct.handle(event, context)
