"""Baseline (c): the floor of a function's HTTP path, for scale.

The bare hello handler plus only what any implementation must do before its first answer
(``floor_direct``: psycopg and httpx imported, a client and a connection opened, one upstream
GET, one query). No models, no Powertools, no audit rules.
"""

from typing import Any

from fastapi import FastAPI
from floor_direct import handler as first_answer  # type: ignore[import-not-found]  # same dir
from mangum import Mangum

app = FastAPI()


@app.get("/policies/{policy_number}")
def policy(policy_number: str) -> Any:
    return first_answer({"policy_number": policy_number}, None)


handler = Mangum(app, lifespan="off")
