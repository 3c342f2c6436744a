"""The reference insurance REST API (the upstream system of record in dev and tests)."""

import hashlib
import hmac
import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import anyio
import psycopg
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from insurance_agent.models import Claim, Policy
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from reference_service import seed

# What any upstream must serve for the functions' client (insurance_agent/upstream.py), which
# reads answers with these very models: schemas/upstream.openapi.json is this app's document.
UPSTREAM_CONTRACT = (
    "The upstream insurance API the functions call (FASTAPI_INSURANCE_BASE_URL), as the "
    "reference service serves it: Bearer API key (FASTAPI_INSURANCE_API_KEY), JSON answers read "
    "with the client's own models (Policy, Claim), Idempotency-Key deduplication on POST "
    "/v1/claims (same key and body: the first claim again, 200; another body: 409), 429/503 "
    "with Retry-After when throttled. /healthz is what `make run`'s /health asks. "
    "/_admin/* (faults, stats, reset) is the reference service's own, for development."
)


class Money(BaseModel):
    amount: Decimal = Field(max_digits=15, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class NewClaim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The seeded numbering's (REFERENCE_NUMBERING): another insurer numbers otherwise.
    policy_number: str = Field(pattern=seed.numbering().policy_pattern)
    customer_id: str
    loss_date: date
    loss_type: str = Field(min_length=1, max_length=40)
    description: str = Field(min_length=1, max_length=2000)
    amount_claimed: Money
    loss_location: str | None = Field(default=None, max_length=200)


@dataclass
class FaultRule:
    """Answer matching requests with a status and/or after a delay, ``times`` times."""

    path_prefix: str
    method: str | None = None
    status: int | None = None
    delay_s: float = 0.0
    times: int | None = 1
    retry_after: str | None = None
    body: str | None = None
    # Handle the request first, then delay or replace the answer: upstream did the work and
    # only the answer is late or lost (what idempotency keys exist for).
    after_processing: bool = False


@dataclass
class AdminState:
    faults: list[FaultRule] = field(default_factory=list)
    peers: set[tuple[str, int]] = field(default_factory=set)
    requests: int = 0
    # Requests by "METHOD /path": how tests count upstream calls of one kind (POST /v1/claims).
    routes: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Off: POST /v1/claims files every request, key or not, so a test can tell our own
    # idempotency layer's work from upstream's (which would otherwise hide its absence).
    dedup: bool = True

    def take_fault(self, method: str, path: str) -> FaultRule | None:
        with self.lock:
            for rule in self.faults:
                if path.startswith(rule.path_prefix) and rule.method in (None, method):
                    if rule.times is not None:
                        rule.times -= 1
                        if rule.times <= 0:
                            self.faults.remove(rule)
                    return rule
        return None


def create_app(
    database_url: str, api_key: str, *, admin: bool = False, connect: bool = True
) -> FastAPI:
    """The service; ``connect=False`` builds it without a database (for its OpenAPI document)."""
    app = FastAPI(
        title="Reference insurance service",
        version="1.0.0",
        description=UPSTREAM_CONTRACT,
    )
    pool: ConnectionPool[Any] = ConnectionPool(
        database_url,
        min_size=1,
        max_size=8,
        open=connect,
        name="reference",
        # No server-side prepared statements: behind a transaction pooler (PgBouncer, RDS
        # Proxy) the next execution may land on a connection where "_pg3_0" already exists.
        kwargs={"autocommit": True, "row_factory": dict_row, "prepare_threshold": None},
    )
    state = AdminState()
    app.state.pool = pool
    app.state.admin = state

    @app.middleware("http")
    async def faults_and_peers(request: Request, call_next: Any) -> Response:
        if request.url.path.startswith("/_admin"):
            admin_response: Response = await call_next(request)
            return admin_response
        if request.client is not None:
            # Each distinct client port is one TCP connection: how tests count reuse.
            with state.lock:
                state.peers.add((request.client.host, request.client.port))
                state.requests += 1
                state.routes[f"{request.method} {request.url.path}"] += 1
        rule = state.take_fault(request.method, request.url.path)
        processed: Response | None = None
        if rule is not None and rule.after_processing:
            processed = await call_next(request)
        if rule is not None:
            if rule.delay_s:
                await anyio.sleep(rule.delay_s)
            if rule.status is not None:
                headers = {"Retry-After": rule.retry_after} if rule.retry_after else None
                content = (
                    rule.body
                    if rule.body is not None
                    else json.dumps({"detail": f"injected fault {rule.status}"})
                )
                return Response(
                    content,
                    status_code=rule.status,
                    headers=headers,
                    media_type="application/json",
                )
        if processed is not None:
            return processed
        response: Response = await call_next(request)
        return response

    def conn() -> Iterator[psycopg.Connection[Any]]:
        with pool.connection() as c:
            yield c

    def authorized(authorization: Annotated[str | None, Header()] = None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), api_key.encode()):
            raise HTTPException(
                401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"}
            )

    Db = Annotated[psycopg.Connection[Any], Depends(conn)]
    auth = [Depends(authorized)]

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/v1/policies/{policy_number}",
        dependencies=auth,
        responses={200: {"model": Policy}, 404: {"description": "no such policy"}},
    )
    def get_policy(policy_number: str, db: Db) -> dict[str, Any]:
        return _policy(db, policy_number)

    @app.get(
        "/v1/policies/{policy_number}/claims",
        dependencies=auth,
        responses={200: {"model": list[Claim]}, 404: {"description": "no such policy"}},
    )
    def list_claims(policy_number: str, db: Db) -> list[dict[str, Any]]:
        _policy(db, policy_number)
        rows = db.execute(
            "SELECT * FROM reference.claims WHERE policy_number = %s ORDER BY created_at",
            (policy_number,),
        ).fetchall()
        return [_claim_out(r) for r in rows]

    @app.get(
        "/v1/claims/{claim_id}",
        dependencies=auth,
        responses={200: {"model": Claim}, 404: {"description": "no such claim"}},
    )
    def get_claim(claim_id: str, db: Db) -> dict[str, Any]:
        row = db.execute(
            "SELECT * FROM reference.claims WHERE claim_id = %s", (claim_id,)
        ).fetchone()
        if row is None:
            raise HTTPException(404, f"claim {claim_id} not found")
        return _claim_out(row)

    @app.get(
        "/v1/claims",
        dependencies=auth,
        responses={200: {"model": list[Claim]}},
    )
    def find_claims(
        db: Db, idempotency_key: Annotated[str, Query(min_length=8, max_length=128)]
    ) -> list[dict[str, Any]]:
        """The claim filed under an Idempotency-Key, if any: how a client that lost the answer
        to a POST learns whether it was filed (the API's reconciler asks this)."""
        rows = db.execute(
            "SELECT * FROM reference.claims WHERE idempotency_key = %s", (idempotency_key,)
        ).fetchall()
        return [_claim_out(r) for r in rows]

    @app.get("/v1/customers/{customer_id}", dependencies=auth)
    def get_customer(customer_id: str, db: Db) -> dict[str, Any]:
        row = db.execute(
            "SELECT * FROM reference.customers WHERE customer_id = %s", (customer_id,)
        ).fetchone()
        if row is None:
            raise HTTPException(404, f"customer {customer_id} not found")
        policies = db.execute(
            "SELECT policy_number FROM reference.policies WHERE customer_id = %s ORDER BY 1",
            (customer_id,),
        ).fetchall()
        return {**_jsonable(row), "policies": [p["policy_number"] for p in policies]}

    @app.post(
        "/v1/claims",
        status_code=201,
        dependencies=auth,
        responses={
            201: {"model": Claim, "description": "filed"},
            200: {
                "model": Claim,
                "description": "the claim first filed with this Idempotency-Key (replayed)",
            },
            409: {"description": "the Idempotency-Key was used for another claim"},
            422: {"description": "the customer does not hold the policy, or another currency"},
        },
    )
    def file_claim(
        claim: NewClaim,
        db: Db,
        response: Response,
        idempotency_key: Annotated[str, Header(min_length=8, max_length=128)],
    ) -> dict[str, Any]:
        request_hash = hashlib.sha256(claim.model_dump_json().encode()).hexdigest()
        stored_key: str | None = idempotency_key if state.dedup else None
        with db.transaction():
            # Serialise filings that share a key so only one of them inserts.
            db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (idempotency_key,))
            existing = db.execute(
                "SELECT * FROM reference.claims WHERE idempotency_key = %s", (stored_key,)
            ).fetchone()
            if existing is not None:
                if existing["request_hash"] != request_hash:
                    raise HTTPException(409, "Idempotency-Key reused with a different claim")
                response.status_code = 200
                response.headers["Idempotent-Replayed"] = "true"
                return _claim_out(existing)
            policy = _policy(db, claim.policy_number)
            if policy["customer_id"] != claim.customer_id:
                raise HTTPException(422, "customer does not hold this policy")
            if claim.amount_claimed.currency != policy["currency"]:
                raise HTTPException(422, "currency differs from the policy currency")
            number = db.execute("SELECT nextval('reference.claim_number')").fetchone()
            assert number is not None
            row = db.execute(
                "INSERT INTO reference.claims (claim_id, policy_number, customer_id, status,"
                " loss_date, loss_type, description, loss_location, amount_claimed, currency,"
                " idempotency_key, request_hash)"
                " VALUES (%s, %s, %s, 'submitted', %s, %s, %s, %s, %s, %s, %s, %s)"
                " RETURNING *",
                (
                    seed.numbering().k(number["nextval"]),
                    claim.policy_number,
                    claim.customer_id,
                    claim.loss_date,
                    claim.loss_type,
                    claim.description,
                    claim.loss_location,
                    claim.amount_claimed.amount,
                    claim.amount_claimed.currency,
                    stored_key,
                    request_hash,
                ),
            ).fetchone()
        assert row is not None
        return _claim_out(row)

    if admin:
        _add_admin_routes(app, state, pool, auth)
    return app


def _add_admin_routes(
    app: FastAPI, state: AdminState, pool: ConnectionPool[Any], auth: list[Any]
) -> None:
    @app.post("/_admin/faults", dependencies=auth)
    def add_fault(rule: dict[str, Any]) -> dict[str, int]:
        with state.lock:
            state.faults.append(FaultRule(**rule))
            return {"faults": len(state.faults)}

    @app.delete("/_admin/faults", dependencies=auth)
    def clear_faults() -> dict[str, int]:
        with state.lock:
            state.faults.clear()
        return {"faults": 0}

    @app.get("/_admin/stats", dependencies=auth)
    def stats() -> dict[str, Any]:
        with state.lock:
            return {
                "requests": state.requests,
                "peers": sorted(state.peers),
                "routes": dict(state.routes),
            }

    @app.post("/_admin/stats/reset", dependencies=auth)
    def reset_stats() -> dict[str, int]:
        with state.lock:
            state.peers.clear()
            state.routes.clear()
            state.requests = 0
        return {"requests": 0}

    @app.post("/_admin/reset", dependencies=auth)
    def reset_data() -> dict[str, str]:
        with pool.connection() as c:
            seed.reset(c)
        state.dedup = True
        return {"status": "reset"}

    @app.post("/_admin/dedup", dependencies=auth)
    def set_dedup(setting: dict[str, bool]) -> dict[str, bool]:
        state.dedup = bool(setting["enabled"])
        return {"enabled": state.dedup}

    @app.get("/_admin/claims/count", dependencies=auth)
    def claim_count() -> dict[str, int]:
        with pool.connection() as c:
            row = c.execute("SELECT count(*) AS n FROM reference.claims").fetchone()
        return {"claims": int(row["n"]) if row else 0}

    del add_fault, clear_faults, stats, reset_stats, reset_data, set_dedup, claim_count


def _policy(db: psycopg.Connection[Any], policy_number: str) -> dict[str, Any]:
    row = db.execute(
        "SELECT * FROM reference.policies WHERE policy_number = %s", (policy_number,)
    ).fetchone()
    if row is None:
        raise HTTPException(404, f"policy {policy_number} not found")
    coverages = db.execute(
        "SELECT peril, limit_amount, deductible FROM reference.coverages"
        " WHERE policy_number = %s ORDER BY peril",
        (policy_number,),
    ).fetchall()
    return {
        "policy_number": row["policy_number"],
        "status": row["status"],
        "product_line": row["product_line"],
        "customer_id": row["customer_id"],
        "effective_date": row["effective_date"].isoformat(),
        "expiration_date": row["expiration_date"].isoformat(),
        "terminated_on": row["terminated_on"].isoformat() if row["terminated_on"] else None,
        "currency": row["currency"],
        "coverages": [
            {
                "peril": c["peril"],
                "limit": str(c["limit_amount"]),
                "deductible": str(c["deductible"]),
            }
            for c in coverages
        ],
        "totals": {
            "aggregate_limit": str(row["aggregate_limit"]),
            "deductible": str(row["deductible"]),
        },
    }


def _claim_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "claim_id": row["claim_id"],
        "policy_number": row["policy_number"],
        "customer_id": row["customer_id"],
        "status": row["status"],
        "loss_date": row["loss_date"].isoformat(),
        "loss_type": row["loss_type"],
        "description": row["description"],
        "loss_location": row["loss_location"],
        "amount_claimed": {"amount": str(row["amount_claimed"]), "currency": row["currency"]},
        "paid_amount": str(row["paid_amount"]),
        "reserve_amount": str(row["reserve_amount"]),
        "created_at": row["created_at"].isoformat(),
    }


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (
            v.isoformat()
            if isinstance(v, date | datetime)
            else str(v)
            if isinstance(v, Decimal)
            else v
        )
        for k, v in row.items()
    }
