"""Baseline (c): the floor of a function's HTTP path, for scale.

The bare hello handler plus only what any implementation must do before its first answer:
import psycopg (and its pool) and httpx, open a client (httpx builds its TLS context) and a
database connection, one upstream GET, one query. No models, no Powertools, no audit rules.
"""

import os
from typing import Any

import httpx
import psycopg
import psycopg_pool  # noqa: F401 -- a pooled implementation imports it
from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()
_open: dict[str, Any] = {}


@app.get("/policies/{policy_number}")
def policy(policy_number: str) -> Any:
    if not _open:
        _open["client"] = httpx.Client(
            base_url=os.environ["FASTAPI_INSURANCE_BASE_URL"],
            headers={"Authorization": f"Bearer {os.environ['FASTAPI_INSURANCE_API_KEY']}"},
        )
        _open["db"] = psycopg.connect(
            os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None
        )
    answer = _open["client"].get(f"/v1/policies/{policy_number}").json()
    _open["db"].execute("SELECT 1")
    return answer


handler = Mangum(app, lifespan="off")
