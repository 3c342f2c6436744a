"""Baseline (d): the floor of a function's direct path, for scale: baseline (c) without FastAPI.

Imports psycopg (and its pool) and httpx, opens a client and a connection, makes one upstream
GET and one query, answers the JSON. No models, no Powertools, no audit rules.
"""

import os
from typing import Any

import httpx
import psycopg
import psycopg_pool  # noqa: F401 -- a pooled implementation imports it

_open: dict[str, Any] = {}


def handler(event: dict[str, Any], context: Any) -> Any:
    if not _open:
        _open["client"] = httpx.Client(
            base_url=os.environ["FASTAPI_INSURANCE_BASE_URL"],
            headers={"Authorization": f"Bearer {os.environ['FASTAPI_INSURANCE_API_KEY']}"},
        )
        _open["db"] = psycopg.connect(
            os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None
        )
    answer = _open["client"].get(f"/v1/policies/{event['policy_number']}").json()
    _open["db"].execute("SELECT 1")
    return answer
