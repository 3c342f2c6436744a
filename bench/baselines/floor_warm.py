"""Baseline (e): the warm floor of a function, for scale: FastAPI + Mangum, one reused
``httpx.Client`` and one reused psycopg connection, one upstream GET and one INSERT of the
answer per request. No models, no Powertools, no audit rules, no pool, no retries.

``build(base_url, api_key, database_url)`` returns the handler; the benchmark's warm section
sends it the policy lookup's API Gateway events in the same minutes as ours.
"""

import asyncio
from collections.abc import Callable
from typing import Any
from uuid import UUID

import httpx
import psycopg
from fastapi import FastAPI, Request
from mangum import Mangum
from psycopg.types.json import Jsonb
from uuid6 import uuid7

INSERT = (
    "INSERT INTO agent_interactions (id, created_at, conversation_id, customer_id, intent, "
    "outcome, payload, result, request_id, function_name, channel, principal) "
    "VALUES (%s, now(), %s, %s, 'policy_lookup', 'ok', %s, %s, %s, 'floor', 'http', %s)"
)


def build(base_url: str, api_key: str, database_url: str) -> Callable[[Any, Any], Any]:
    client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {api_key}"})
    conn = psycopg.connect(database_url, autocommit=True, prepare_threshold=None)
    app = FastAPI()

    @app.get("/policies/{policy_number}")
    async def policy(policy_number: str, request: Request) -> Any:
        answer = client.get(f"/v1/policies/{policy_number}").json()
        headers = request.headers
        conn.execute(
            INSERT,
            (
                UUID(bytes=uuid7().bytes),  # as the functions: its day picks the partition
                headers.get("x-conversation-id"),
                headers.get("x-customer-id"),
                Jsonb({"policy_number": policy_number}),
                Jsonb(answer),
                request.scope["aws.event"]["requestContext"]["requestId"],
                "floor",
            ),
        )
        return answer

    asyncio.set_event_loop(asyncio.new_event_loop())
    handler = Mangum(app, lifespan="off")

    def close() -> None:
        client.close()
        conn.close()

    handler.close = close  # type: ignore[attr-defined]
    return handler
