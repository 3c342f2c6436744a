"""Who may do what: the caller is the verified token's holder, never a header it sets.

A customer acts only on its own policies and another customer's policy is answered exactly as
an unknown one (and audited ``denied``); an agent acts for any customer it names, in a named
conversation; an event without verified claims is refused. The local gateway refuses bad
tokens itself: the function never runs and nothing is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from devstack.bedrock_events import bedrock_event, response_json
from devstack.dev_identity import DevIdentityProvider, agent_identity, customer_identity
from devstack.events import LambdaContext
from devstack.jwt_authorizer import gateway_claims
from devstack.stack import ReferenceService
from tests.conftest import Answer, upstream_claim_count
from tests.integration.conftest import claim_body, headers_for, local_api_url, lookup, post

LOOKUP, SUMMARY, CREATE = "PolicyLookupFunction", "ClaimSummaryFunction", "ClaimCreateFunction"
CUSTOMER = gateway_claims(customer_identity("cust-7788", "u-7788"))  # owns POL-1000x
UNKNOWN = "POL-99999"
ANOTHERS = "POL-20001"  # cust-9001's


def customer_headers(conversation_id: str, **extra: str) -> dict[str, str]:
    return {"X-Conversation-Id": conversation_id, "Content-Type": "application/json", **extra}


def shape(answer: Answer, policy_number: str) -> tuple[Any, ...]:
    """Everything a caller can see of a refusal, but the request id and the policy it named."""
    error = answer.body["error"]
    return (
        answer.status,
        sorted(answer.headers),
        sorted(answer.body),
        sorted(error),
        error["code"],
        error["message"].replace(policy_number, "<policy>"),
        error["details"],
    )


def upstream_requests(reference: ReferenceService) -> int:
    with reference.admin() as admin:
        return int(admin.get("/_admin/stats").json()["requests"])


def row_for(audit_rows: Callable[..., list[dict[str, Any]]], answer: Answer) -> dict[str, Any]:
    (row,) = audit_rows(request_id=answer.headers["x-request-id"])
    return row


# -- customer principal -------------------------------------------------------------------------


def test_a_customer_reads_its_own_policy_without_naming_itself(
    handlers, fresh_reference, audit_rows, conversation_id
):
    answer = lookup(
        handlers[LOOKUP], "POL-10001", customer_headers(conversation_id), jwt_claims=CUSTOMER
    )

    assert answer.status == 200
    assert answer.body["customer_id"] == "cust-7788"
    row = row_for(audit_rows, answer)
    assert (row["outcome"], row["principal"]) == ("ok", "customer:u-7788")
    assert (row["customer_id"], row["conversation_id"]) == ("cust-7788", conversation_id)


def test_another_customers_policy_is_answered_as_an_unknown_one_and_audited_denied(
    handlers, fresh_reference, audit_rows, conversation_id
):
    headers = customer_headers(conversation_id)
    anothers = lookup(handlers[LOOKUP], ANOTHERS, headers, jwt_claims=CUSTOMER)
    unknown = lookup(handlers[LOOKUP], UNKNOWN, headers, jwt_claims=CUSTOMER)

    assert anothers.status == 404
    assert anothers.body["error"]["code"] == "POLICY_NOT_FOUND"
    assert shape(anothers, ANOTHERS) == shape(unknown, UNKNOWN)
    assert "cust-9001" not in str(anothers.body)
    denied = row_for(audit_rows, anothers)
    assert (denied["outcome"], denied["error_code"]) == ("denied", "POLICY_NOT_FOUND")
    assert denied["principal"] == "customer:u-7788"
    assert row_for(audit_rows, unknown)["outcome"] == "error"


def test_a_customers_summary_of_another_customers_policy_is_the_unknown_answer(
    handlers, fresh_reference, audit_rows, conversation_id
):
    headers = customer_headers(conversation_id)
    anothers = post(
        handlers[SUMMARY], SUMMARY, {"policy_number": ANOTHERS}, headers, jwt_claims=CUSTOMER
    )
    unknown = post(
        handlers[SUMMARY], SUMMARY, {"policy_number": UNKNOWN}, headers, jwt_claims=CUSTOMER
    )

    assert anothers.status == 404
    assert shape(anothers, ANOTHERS) == shape(unknown, UNKNOWN)
    assert row_for(audit_rows, anothers)["outcome"] == "denied"


def test_a_customers_claim_on_another_customers_policy_is_the_unknown_answer_and_files_nothing(
    handlers, fresh_reference, audit_rows, conversation_id
):
    before = upstream_claim_count(fresh_reference)

    def file(policy_number: str) -> Answer:
        headers = customer_headers(conversation_id, **{"Idempotency-Key": uuid.uuid4().hex})
        body = claim_body(policy_number=policy_number, loss_type="fire")
        return post(handlers[CREATE], CREATE, body, headers, jwt_claims=CUSTOMER)

    anothers, unknown = file(ANOTHERS), file(UNKNOWN)

    assert anothers.status == 404
    assert shape(anothers, ANOTHERS) == shape(unknown, UNKNOWN)
    assert upstream_claim_count(fresh_reference) == before
    # Refused before the intent row: the trail holds the refusal alone.
    assert row_for(audit_rows, anothers)["outcome"] == "denied"


@pytest.mark.parametrize("policy_number", [ANOTHERS, "POL-10001"])
def test_a_forged_x_customer_id_cannot_widen_a_customer(
    handlers, fresh_reference, audit_rows, conversation_id, policy_number
):
    """Naming cust-9001 in the header reaches neither cust-9001's policy nor, while the header
    says so, the caller's own: acting for another customer is answered as an unknown policy."""
    headers = customer_headers(conversation_id, **{"X-Customer-Id": "cust-9001"})
    before = upstream_requests(fresh_reference)

    forged = lookup(handlers[LOOKUP], policy_number, headers, jwt_claims=CUSTOMER)
    asked = upstream_requests(fresh_reference) - before
    unknown = lookup(handlers[LOOKUP], UNKNOWN, headers, jwt_claims=CUSTOMER)

    assert forged.status == 404
    assert asked == 0  # refused before upstream heard of it
    assert shape(forged, policy_number) == shape(unknown, UNKNOWN)
    row = row_for(audit_rows, forged)
    assert (row["outcome"], row["principal"]) == ("denied", "customer:u-7788")
    assert row["customer_id"] == "cust-9001"  # what was asked for, by whom: principal


def test_a_customer_naming_itself_in_the_header_is_served(
    handlers, fresh_reference, conversation_id
):
    headers = customer_headers(conversation_id, **{"X-Customer-Id": "cust-7788"})

    assert lookup(handlers[LOOKUP], "POL-10002", headers, jwt_claims=CUSTOMER).status == 200


# -- agent principal ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("customer_id", "policy_number"), [("cust-9001", "POL-20001"), ("cust-7788", "POL-10003")]
)
def test_an_agent_acts_for_any_customer_it_names(
    handlers, fresh_reference, audit_rows, conversation_id, customer_id, policy_number
):
    answer = lookup(handlers[LOOKUP], policy_number, headers_for(conversation_id, customer_id))

    assert answer.status == 200
    row = row_for(audit_rows, answer)
    assert (row["principal"], row["customer_id"]) == ("agent:test-agent", customer_id)


def test_an_agent_is_still_held_to_the_customer_it_names(
    handlers, fresh_reference, audit_rows, conversation_id
):
    answer = lookup(handlers[LOOKUP], ANOTHERS, headers_for(conversation_id, "cust-7788"))

    assert answer.status == 404
    assert row_for(audit_rows, answer)["outcome"] == "denied"


@pytest.mark.parametrize(
    ("drop", "named"),
    [
        ("X-Conversation-Id", ["X-Conversation-Id"]),
        ("X-Customer-Id", ["X-Customer-Id"]),
        (None, ["X-Conversation-Id", "X-Customer-Id"]),
    ],
)
def test_an_agent_without_a_conversation_or_customer_is_refused_naming_them(
    handlers, fresh_reference, audit_rows, drop, named
):
    conversation_id = f"conv-{uuid.uuid4().hex[:12]}"
    headers = headers_for(conversation_id)
    for name in [drop] if drop else ["X-Conversation-Id", "X-Customer-Id"]:
        headers.pop(name)
    before = upstream_requests(fresh_reference)

    answer = lookup(handlers[LOOKUP], "POL-10001", headers)

    assert answer.status == 400
    error = answer.body["error"]
    assert error["code"] == "MISSING_HEADER"
    assert all(name in error["message"] for name in named)
    assert "agent" in error["message"]
    assert {e["field"] for e in error["details"]["errors"]} == {
        f"header.{n.lower()}" for n in named
    }
    row = row_for(audit_rows, answer)
    assert (row["outcome"], row["principal"]) == ("error", "agent:test-agent")
    assert upstream_requests(fresh_reference) == before


# -- no verified identity -----------------------------------------------------------------------


@pytest.mark.parametrize("with_headers", [True, False])
def test_an_event_without_claims_is_401_audited_before_anything_else(
    handlers, fresh_reference, audit_rows, conversation_id, with_headers
):
    """A route left outside the JWT authorizer: refused whatever caller headers it carries,
    and before they are checked (no 400 for missing ones)."""
    headers = headers_for(conversation_id) if with_headers else {}

    answer = lookup(handlers[LOOKUP], "POL-10001", headers, jwt_claims=None)

    assert answer.status == 401
    assert answer.body["error"]["code"] == "UNAUTHORIZED"
    assert answer.body["error"]["request_id"] == answer.headers["x-request-id"]
    row = row_for(audit_rows, answer)
    assert (row["outcome"], row["error_code"], row["principal"]) == (
        "denied",
        "UNAUTHORIZED",
        None,
    )


@pytest.mark.parametrize(
    ("jwt_claims", "status", "code", "principal"),
    [
        (None, 401, "UNAUTHORIZED", None),
        ({"sub": "u-nobody", "scope": "openid"}, 403, "FORBIDDEN", "unscoped:u-nobody"),
        (CUSTOMER, 422, "VALIDATION_FAILED", "customer:u-7788"),
    ],
)
def test_who_calls_is_checked_before_the_caller_headers_are_validated(
    handlers, fresh_reference, audit_rows, jwt_claims, status, code, principal
):
    """A malformed caller header on a request without a usable identity: refused for the
    identity, as when authentication was a dependency of its own that ran first; with a
    verified identity, refused for the header, and the row names who sent it."""
    headers = headers_for("not a conversation id!", customer_id="cust 7788")

    answer = lookup(handlers[LOOKUP], "POL-10001", headers, jwt_claims=jwt_claims)

    assert (answer.status, answer.body["error"]["code"]) == (status, code)
    row = row_for(audit_rows, answer)
    assert (row["error_code"], row["principal"]) == (code, principal)


def test_claims_without_a_customer_or_the_agent_scope_are_403_audited_with_the_subject(
    handlers, fresh_reference, audit_rows, conversation_id
):
    claims = {"sub": "u-nobody", "scope": "openid profile", "iss": "https://auth.example.com/"}

    answer = post(
        handlers[SUMMARY],
        SUMMARY,
        {"policy_number": "POL-10001"},
        headers_for(conversation_id),
        jwt_claims=claims,
    )

    assert answer.status == 403
    assert answer.body["error"]["code"] == "FORBIDDEN"
    row = row_for(audit_rows, answer)
    assert (row["outcome"], row["principal"]) == ("denied", "unscoped:u-nobody")


# -- the IAM-trusted doors ----------------------------------------------------------------------


def test_direct_and_bedrock_calls_carry_no_jwt_and_are_audited_with_their_caller(
    handlers, fresh_reference, audit_rows, conversation_id
):
    direct = handlers[LOOKUP](
        {"conversation_id": conversation_id, "customer_id": "cust-9001", "policy_number": ANOTHERS},
        LambdaContext(function_name=LOOKUP),
    )
    bedrock = handlers[LOOKUP](
        bedrock_event(
            "/policies/{policy_number}",
            "GET",
            parameters={"policy_number": ANOTHERS},
            session_attributes={"conversation_id": conversation_id, "customer_id": "cust-9001"},
        ),
        LambdaContext(function_name=LOOKUP),
    )

    assert direct["policy_number"] == ANOTHERS
    assert response_json(bedrock)["policy_number"] == ANOTHERS
    rows = audit_rows(conversation_id)
    assert [(r["channel"], r["principal"], r["outcome"]) for r in rows] == [
        ("direct", "iam-invoke", "ok"),
        ("bedrock", "bedrock-agent:AGENT12345/TSTALIASID", "ok"),
    ]


# -- the local gateway --------------------------------------------------------------------------


class Spied:
    """The real handlers, counting the events that reach them."""

    def __init__(self, handlers: dict[str, Callable[[Any, Any], Any]]) -> None:
        self.events: list[dict[str, Any]] = []
        self.handlers = {name: self._wrap(h) for name, h in handlers.items()}

    def _wrap(self, inner: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def handler(event: Any, context: Any) -> Any:
            self.events.append(event)
            return inner(event, context)

        return handler


@pytest.fixture(scope="module")
def gateway(handlers, dev_identity) -> Iterator[tuple[str, Spied]]:
    spied = Spied(handlers)
    with local_api_url(spied.handlers, dev_identity.authorizer()) as url:
        yield url, spied


def _row_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM agent_interactions").fetchone()
    return int(row[0]) if row else 0


def _bad_tokens(provider: DevIdentityProvider) -> dict[str, str | None]:
    customer = customer_identity("cust-7788", "u-7788")
    impostor = DevIdentityProvider(
        provider.issuer,
        provider.audience,
        provider.kid,  # the trusted kid, another key: a forged signature
        DevIdentityProvider.generate().private_key,
    )
    wrong_issuer = DevIdentityProvider(
        "https://someone-else.example/", provider.audience, provider.kid, provider.private_key
    )
    return {
        "missing": None,
        "expired": provider.token(customer, ttl_s=-30),
        "wrong-issuer": wrong_issuer.token(customer),
        "wrong-audience": provider.token(customer | {"aud": "another-api"}),
        "bad-signature": impostor.token(customer),
        "not-yet-valid": provider.token(customer | {"nbf": 4102444800}),
    }


@pytest.mark.parametrize(
    "kind",
    ["missing", "expired", "wrong-issuer", "wrong-audience", "bad-signature", "not-yet-valid"],
)
def test_the_gateway_answers_bad_tokens_401_and_no_function_runs(
    gateway, dev_identity, fresh_reference, database_url, audit_rows, conversation_id, kind
):
    url, spied = gateway
    token = _bad_tokens(dev_identity)[kind]
    headers = headers_for(
        conversation_id, idempotency_key=f"bad-token-{conversation_id}", authorized=False
    )
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    seen, rows, claims = (
        len(spied.events),
        _row_count(database_url),
        upstream_claim_count(fresh_reference),
    )

    got = httpx.get(f"{url}/policies/POL-10001", headers=headers)
    filed = httpx.post(f"{url}/claims", json=claim_body(), headers=headers)

    for response in (got, filed):
        assert response.status_code == 401
        assert response.json() == {"message": "Unauthorized"}
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert len(spied.events) == seen  # the handler never ran
    assert audit_rows(conversation_id) == []
    assert _row_count(database_url) == rows
    assert upstream_claim_count(fresh_reference) == claims


def test_a_valid_tokens_claims_reach_the_function_where_api_gateway_puts_them(
    gateway, dev_identity, fresh_reference, audit_rows, conversation_id
):
    url, spied = gateway
    token = dev_identity.token(customer_identity("cust-7788", "u-7788"))

    response = httpx.get(
        f"{url}/policies/POL-10001",
        headers={"Authorization": f"Bearer {token}", "X-Conversation-Id": conversation_id},
    )

    assert response.status_code == 200
    jwt = spied.events[-1]["requestContext"]["authorizer"]["jwt"]
    assert jwt["claims"]["customer_id"] == "cust-7788"
    assert jwt["claims"]["iss"] == dev_identity.issuer
    assert all(isinstance(v, str) for v in jwt["claims"].values())
    assert jwt["scopes"] == ["openid", "insurance/customer"]
    (row,) = audit_rows(conversation_id)
    assert (row["principal"], row["customer_id"]) == ("customer:u-7788", "cust-7788")


def test_over_the_gateway_a_customer_token_with_a_forged_header_gets_the_unknown_answer(
    gateway, dev_identity, fresh_reference, audit_rows, conversation_id
):
    url, _ = gateway
    token = dev_identity.token(customer_identity("cust-7788", "u-7788"))
    headers = {
        "Authorization": f"Bearer {token}",
        "X-Conversation-Id": conversation_id,
        "X-Customer-Id": "cust-9001",
    }

    forged = httpx.get(f"{url}/policies/{ANOTHERS}", headers=headers)
    unknown = httpx.get(f"{url}/policies/{UNKNOWN}", headers=headers)

    assert forged.status_code == unknown.status_code == 404
    assert forged.json()["error"]["message"] == f"policy {ANOTHERS} not found"
    assert unknown.json()["error"]["message"] == f"policy {UNKNOWN} not found"
    # Acting for another customer is denied whatever the policy: unknown ones included.
    assert [r["outcome"] for r in audit_rows(conversation_id)] == ["denied", "denied"]


def test_an_agent_token_over_the_gateway_acts_for_the_customer_it_names(
    gateway, dev_identity, fresh_reference, audit_rows, conversation_id
):
    url, _ = gateway
    token = dev_identity.token(agent_identity("claims-desk-4"))

    response = httpx.get(
        f"{url}/policies/{ANOTHERS}",
        headers={
            "Authorization": f"Bearer {token}",
            "X-Conversation-Id": conversation_id,
            "X-Customer-Id": "cust-9001",
        },
    )

    assert response.status_code == 200
    (row,) = audit_rows(conversation_id)
    assert row["principal"] == "agent:claims-desk-4"
