"""Baseline (a): a bare FastAPI + Mangum hello handler, the floor of any FastAPI function."""

from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"message": "hello"}


handler = Mangum(app, lifespan="off")
