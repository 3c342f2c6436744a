"""Bad input through every door: a clear 4xx naming the problem, and nothing written but the
audit row of the refusal (no claim upstream, no other row, the tables still there).

HTTP goes over real HTTP through the local API (devstack/local_api.py) where the bytes can be
sent as given; what HTTP clients refuse to send (CR/LF in headers) goes to the handler as the
API Gateway event. Direct invocations and Bedrock events go to the real handlers.
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import psycopg
import pytest
from insurance_agent.personal_data import open_rows, wrapper_from_environment

from devstack.bedrock_events import bedrock_event, response_json
from devstack.events import LambdaContext
from tests.conftest import upstream_claim_count
from tests.integration.conftest import claim_body, headers_for, lookup, post

SQL = ["POL-1' OR '1'='1", "; DROP TABLE agent_interactions;--"]
TRAVERSAL = ["../../etc/passwd", "..\\..\\windows\\win.ini", "%2e%2e%2f%2e%2e%2fetc%2fpasswd"]
CONTROL = ["POL-10001\x00", "POL-\x0010001", "POL-100\n01", "\x1b[2JPOL-10001", "POL-10001\x7f"]
BAD_IDS = SQL + TRAVERSAL + CONTROL
ERROR_KEYS = {"code", "message", "request_id", "details"}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


def send(
    api_url: str, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str]
) -> Reply:
    """One request with the path and body bytes exactly as given."""
    conn = http.client.HTTPConnection(urlsplit(api_url).netloc, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body)
        response = conn.getresponse()
        raw = response.read()
        return Reply(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            json.loads(raw) if raw else None,
        )
    finally:
        conn.close()


@dataclass
class World:
    """What a refused request may change: one audit row, nothing upstream."""

    database_url: str
    reference: Any
    rows: int = 0
    claims: int = 0

    def __post_init__(self) -> None:
        self.rows, self.claims = self.count_rows(), upstream_claim_count(self.reference)

    def count_rows(self) -> int:
        with psycopg.connect(self.database_url) as conn:
            row = conn.execute("SELECT count(*) FROM agent_interactions").fetchone()
        return int(row[0]) if row else 0

    def upstream_requests(self) -> int:
        with self.reference.admin() as admin:
            return int(admin.get("/_admin/stats").json()["requests"])

    def only_the_refusal(self, request_id: str, code: str) -> dict[str, Any]:
        with psycopg.connect(self.database_url, row_factory=psycopg.rows.dict_row) as conn:
            rows = conn.execute(
                "SELECT * FROM agent_interactions WHERE request_id = %s", (request_id,)
            ).fetchall()
            tables = conn.execute(
                "SELECT to_regclass('agent_interactions') IS NOT NULL AS audit,"
                " to_regclass('reference.claims') IS NOT NULL AS claims"
            ).fetchone()
        assert tables == {"audit": True, "claims": True}, "a table is gone"
        assert [(r["outcome"], r["error_code"]) for r in rows] == [("error", code)]
        assert self.count_rows() == self.rows + 1, "rows written besides the refusal"
        assert upstream_claim_count(self.reference) == self.claims, "a claim was filed"
        assert self.upstream_requests() == 0, "upstream was called"
        return rows[0]


@pytest.fixture
def world(database_url: str, reference: Any) -> World:
    with reference.admin() as admin:  # upstream's request count from zero; its data as it is
        admin.post("/_admin/stats/reset").raise_for_status()
    return World(database_url, reference)


def refusal(status: int, body: Any, headers: dict[str, str], *, expected: int, naming: str) -> Any:
    """The error body of a refusal with ``expected`` status whose message names the problem."""
    assert status == expected, body
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == ERROR_KEYS
    assert naming.lower() in error["message"].lower(), error["message"]
    assert error["request_id"] == headers["x-request-id"]
    return error


def caller(idempotent: bool = False) -> dict[str, str]:
    conversation = f"bad-{uuid.uuid4().hex[:12]}"
    key = f"key-{uuid.uuid4().hex}" if idempotent else None
    return headers_for(conversation, idempotency_key=key)


# -- ids: SQL-looking, path traversal, control characters -- refused by the id patterns -------


@pytest.mark.parametrize("value", BAD_IDS)
def test_bad_policy_number_in_the_path_is_refused(api_url, world, value):
    reply = send(api_url, "GET", f"/policies/{quote(value, safe='')}", headers=caller())

    if "/" in value:  # decoded, it is a path no route serves: the app says so
        error = refusal(reply.status, reply.body, reply.headers, expected=404, naming="no route")
        world.only_the_refusal(error["request_id"], "ROUTE_NOT_FOUND")
    else:
        error = refusal(
            reply.status, reply.body, reply.headers, expected=422, naming="policy_number"
        )
        world.only_the_refusal(error["request_id"], "VALIDATION_FAILED")


def test_traversal_out_of_the_route_never_reaches_a_function(api_url, world):
    reply = send(api_url, "GET", "/policies/../../etc/passwd", headers=caller())

    assert (reply.status, reply.body) == (404, {"message": "Not Found"})  # the gateway's own
    assert world.count_rows() == world.rows


@pytest.mark.parametrize("value", BAD_IDS)
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/claims", "policy_number"),
        ("/agent/claim-summary", "policy_number"),
        ("/agent/claim-summary", "claim_id"),
    ],
)
def test_bad_ids_in_the_body_are_refused(api_url, world, path, field, value):
    base = claim_body() if path == "/claims" else {"policy_number": "POL-10001"}
    body = json.dumps(base | {field: value}).encode()

    reply = send(api_url, "POST", path, body=body, headers=caller(idempotent=True))

    error = refusal(reply.status, reply.body, reply.headers, expected=422, naming=field)
    world.only_the_refusal(error["request_id"], "VALIDATION_FAILED")


@pytest.mark.parametrize("value", [*BAD_IDS, "conv-1\r\nX-Customer-Id: cust-9001"])
@pytest.mark.parametrize("header", ["X-Conversation-Id", "X-Customer-Id", "Idempotency-Key"])
def test_bad_ids_in_headers_are_refused(handlers, world, header, value):
    headers = caller(idempotent=True) | {header: value}

    answer = post(handlers["ClaimCreateFunction"], "ClaimCreateFunction", claim_body(), headers)

    error = refusal(answer.status, answer.body, answer.headers, expected=422, naming=header)
    row = world.only_the_refusal(error["request_id"], "VALIDATION_FAILED")
    if header == "X-Conversation-Id":
        assert row["conversation_id"] is None  # a malformed id is never recorded as one


# -- SQL-looking free text is data: filed and stored verbatim, never executed ----------------


@pytest.mark.parametrize("text", [*SQL, "Robert'); DROP TABLE reference.claims;--", "1; --"])
def test_sql_looking_free_text_is_stored_verbatim(
    api_url, fresh_reference, audit_rows, database_url, text
):
    headers = caller(idempotent=True)
    body = claim_body(description=text, loss_location=text)

    reply = send(api_url, "POST", "/claims", body=json.dumps(body).encode(), headers=headers)

    assert reply.status == 201, reply.body
    assert (reply.body["description"], reply.body.get("loss_location", text)) == (text, text)
    rows = audit_rows(headers["X-Conversation-Id"])
    assert [r["outcome"] for r in rows] == ["pending", "ok"]
    with psycopg.connect(database_url) as conn:  # the description is sealed (docs/audit.md)
        rows = open_rows(conn, rows, wrapper_from_environment())
    assert all(r["payload"]["description"] == text for r in rows)
    assert upstream_claim_count(fresh_reference) == 9  # the eight seeded and this one


# -- bodies: size, nesting, encoding, numbers, shape, content type, duplicate keys -----------


def deep(levels: int, *, kind: str) -> bytes:
    if kind == "array":
        return b"[" * levels + b"]" * levels
    return b'{"a":' * levels + b"1" + b"}" * levels


BAD_BODIES = {
    "too large": (json.dumps(claim_body(description="x" * 70_000)).encode(), 413, "exceeds"),
    "10,000 nested arrays": (deep(10_000, kind="array"), 422, "nested deeper"),
    "10,000 nested objects": (deep(10_000, kind="object"), 422, "nested deeper"),
    "33 nested objects": (deep(33, kind="object"), 422, "nested deeper"),
    "invalid UTF-8": (b'{"policy_number": "POL-10001\xff\xfe"}', 422, "UTF-8"),
    "overlong UTF-8": (b'{"policy_number": "\xc0\xafPOL"}', 422, "UTF-8"),
    "not JSON": (b'{"policy_number": ', 422, "not valid JSON"),
    "array": (b"[]", 422, "not an array"),
    "string": (b'"POL-10001"', 422, "not a string"),
    "null": (b"null", 422, "not null"),
    "number": (b"42", 422, "not a number"),
    "duplicate keys": (
        b'{"policy_number": "POL-10001", "policy_number": "POL-20001"}',
        422,
        "duplicate key 'policy_number'",
    ),
    "NUL in an unknown key": (b'{"policy_number": "POL-10001", "a\\u0000b": 1}', 422, "a"),
}


@pytest.mark.parametrize("path", ["/claims", "/agent/claim-summary"])
@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_bodies_are_refused(api_url, world, path, case):
    body, status, naming = BAD_BODIES[case]

    reply = send(api_url, "POST", path, body=body, headers=caller(idempotent=True))

    error = refusal(reply.status, reply.body, reply.headers, expected=status, naming=naming)
    code = "PAYLOAD_TOO_LARGE" if status == 413 else "VALIDATION_FAILED"
    row = world.only_the_refusal(error["request_id"], code)
    assert row["conversation_id"] is not None  # refused early, still attributed


def test_a_body_that_grows_in_bytes_not_characters_is_measured_in_bytes(api_url, world):
    # 30,000 characters, 90,000 bytes of UTF-8: over the 64 KiB limit.
    body = json.dumps(claim_body(description="€" * 30_000), ensure_ascii=False).encode()

    reply = send(api_url, "POST", "/claims", body=body, headers=caller(idempotent=True))

    error = refusal(reply.status, reply.body, reply.headers, expected=413, naming="exceeds")
    world.only_the_refusal(error["request_id"], "PAYLOAD_TOO_LARGE")


AMOUNTS = {
    "NaN": (b"NaN", "NaN is not a number"),
    "Infinity": (b"Infinity", "Infinity is not a number"),
    "-Infinity": (b"-Infinity", "-Infinity is not a number"),
    "1e400": (b"1e400", "exponent form"),
    "1e3": (b"1e3", "exponent form"),
    "1.25E+3": (b"1.25E+3", "exponent form"),
    '"1e3"': (b'"1e3"', "amount_claimed.amount"),
    '"NaN"': (b'"NaN"', "amount_claimed.amount"),
    '"1,250.00"': (b'"1,250.00"', "amount_claimed.amount"),
    "10**20": (b"1" + b"0" * 20, "amount_claimed.amount"),
    "5,000 digits": (b"9" * 5_000, "too long"),
    "0.001": (b"0.001", "amount_claimed.amount"),
    "true": (b"true", "amount_claimed.amount"),
}


@pytest.mark.parametrize("amount", list(AMOUNTS))
def test_bad_amounts_are_refused(api_url, world, amount):
    raw, naming = AMOUNTS[amount]
    marker = "__AMOUNT__"
    text = json.dumps(claim_body(amount_claimed={"amount": marker, "currency": "USD"}))
    body = text.replace(f'"{marker}"', raw.decode()).encode()

    reply = send(api_url, "POST", "/claims", body=body, headers=caller(idempotent=True))

    error = refusal(reply.status, reply.body, reply.headers, expected=422, naming=naming)
    world.only_the_refusal(error["request_id"], "VALIDATION_FAILED")


@pytest.mark.parametrize("field", ["description", "loss_location"])
@pytest.mark.parametrize(
    "text",
    [
        "dent\x00",
        "\x00",
        "a\x07b",
        "line\x1b[2Jreset",
        "del\x7f",
        "c1 \x9b2J csi",  # a C1 control: a one-byte CSI
        "nel\x85next",
        "paid \u202e00.0001",  # RIGHT-TO-LEFT OVERRIDE
        "iso\u2067late",  # RIGHT-TO-LEFT ISOLATE
    ],
)
def test_control_characters_in_free_text_are_refused(api_url, world, field, text):
    body = json.dumps(claim_body(**{field: text})).encode()

    reply = send(api_url, "POST", "/claims", body=body, headers=caller(idempotent=True))

    error = refusal(reply.status, reply.body, reply.headers, expected=422, naming=field)
    assert "control characters" in error["message"]
    world.only_the_refusal(error["request_id"], "VALIDATION_FAILED")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/json; charset=latin-1",
    ],
)
def test_wrong_content_types_are_415(api_url, world, content_type):
    headers = caller(idempotent=True) | {"Content-Type": content_type}
    body = json.dumps(claim_body()).encode()

    reply = send(api_url, "POST", "/claims", body=body, headers=headers)

    error = refusal(reply.status, reply.body, reply.headers, expected=415, naming="content-type")
    world.only_the_refusal(error["request_id"], "UNSUPPORTED_MEDIA_TYPE")


# -- the direct-invocation door (Step Functions): what Lambda hands the function -------------


def direct(handler: Callable[[Any, Any], Any], task: Any) -> tuple[str, str]:
    """The error a direct invocation raises (what Step Functions sees), and its request id."""
    context = LambdaContext(function_name="ClaimCreateFunction")
    with pytest.raises(Exception) as raised:
        handler(task, context)
    return f"{type(raised.value).__name__}: {raised.value}", context.aws_request_id


def task(**overrides: Any) -> dict[str, Any]:
    return {
        **claim_body(),
        "conversation_id": f"direct-{uuid.uuid4().hex[:12]}",
        "customer_id": "cust-7788",
        "idempotency_key": f"key-{uuid.uuid4().hex}",
        **overrides,
    }


def nested(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for _ in range(levels):
        node = {"a": node}
    return node


DIRECT_INPUTS = {
    "a list": ([task()], "(body)"),
    "a string": ("POL-10001", "(body)"),
    "null": (None, "(body)"),
    "a number": (42, "(body)"),
    "a huge description": (task(description="x" * 5_000_000), "description"),
    "a huge unknown field": (task(notes="x" * 5_000_000), "notes"),
    "10,000 levels in a field": (task(amount_claimed=nested(10_000)), "amount_claimed"),
    "10,000 levels in an unknown field": (task(extra=nested(10_000)), "extra"),
    "SQL policy number": (task(policy_number=SQL[1]), "policy_number"),
    "traversal policy number": (task(policy_number=TRAVERSAL[0]), "policy_number"),
    "NUL in the conversation id": (task(conversation_id="conv\x00"), "conversation_id"),
    "NUL in the description": (task(description="dent\x00"), "description"),
    "NaN amount": (task(amount_claimed={"amount": float("nan"), "currency": "USD"}), "amount"),
    "exponent amount": (task(amount_claimed={"amount": "1e3", "currency": "USD"}), "amount"),
}


@pytest.mark.parametrize("case", list(DIRECT_INPUTS))
def test_bad_direct_inputs_are_refused(handlers, world, case):
    event, naming = DIRECT_INPUTS[case]

    raised, request_id = direct(handlers["ClaimCreateFunction"], event)

    assert raised.startswith("ValidationFailed: VALIDATION_FAILED: invalid task input"), raised
    assert naming in raised
    world.only_the_refusal(request_id, "VALIDATION_FAILED")


# -- the Bedrock door: the model's values are strings, the caller is the session's -----------


def bedrock(handler: Callable[[Any, Any], Any], event: dict[str, Any]) -> tuple[int, Any]:
    response = handler(event, LambdaContext(function_name="ClaimCreateFunction"))
    return response["response"]["httpStatusCode"], response_json(response)


SESSION = {"customer_id": "cust-7788"}


def bedrock_claim(**overrides: Any) -> dict[str, Any]:
    return bedrock_event(
        "/claims", "POST", body=claim_body() | overrides, session_attributes=SESSION
    )


def with_property(name: str, kind: str, value: str) -> dict[str, Any]:
    event = bedrock_claim()
    props = event["requestBody"]["content"]["application/json"]["properties"]
    props[:] = [p for p in props if p["name"] != name] + [
        {"name": name, "type": kind, "value": value}
    ]
    return event


BEDROCK_EVENTS = {
    "SQL policy number": (lambda: bedrock_claim(policy_number=SQL[0]), "policy_number"),
    "traversal policy number": (lambda: bedrock_claim(policy_number=TRAVERSAL[2]), "policy_number"),
    "NUL in the description": (lambda: bedrock_claim(description="dent\x00"), "description"),
    "huge description": (lambda: bedrock_claim(description="x" * 1_000_000), "description"),
    "10,000 levels in an object value": (
        lambda: with_property("amount_claimed", "object", deep(10_000, kind="object").decode()),
        "amount_claimed",
    ),
    "duplicate keys in an object value": (
        lambda: with_property(
            "amount_claimed", "object", '{"amount": "1.00", "amount": "9999.00", "currency": "USD"}'
        ),
        "amount_claimed",
    ),
    "NaN amount": (
        lambda: with_property("amount_claimed", "object", '{"amount": NaN, "currency": "USD"}'),
        "amount_claimed",
    ),
    "exponent amount": (
        lambda: bedrock_claim(amount_claimed={"amount": "1e3", "currency": "USD"}),
        "amount",
    ),
    "SQL customer in the session": (
        lambda: bedrock_event(
            "/claims", "POST", body=claim_body(), session_attributes={"customer_id": SQL[1]}
        ),
        "customer_id",
    ),
}


@pytest.mark.parametrize("case", list(BEDROCK_EVENTS))
def test_bad_bedrock_events_are_refused(handlers, world, case):
    make, naming = BEDROCK_EVENTS[case]

    status, body = bedrock(handlers["ClaimCreateFunction"], make())

    error = refusal(
        status, body, {"x-request-id": body["error"]["request_id"]}, expected=422, naming=naming
    )
    world.only_the_refusal(error["request_id"], "VALIDATION_FAILED")


def test_the_policy_lookup_door_refuses_bad_ids_without_calling_upstream(handlers, world):
    answer = lookup(handlers["PolicyLookupFunction"], TRAVERSAL[1], caller())

    error = refusal(
        answer.status, answer.body, answer.headers, expected=422, naming="policy_number"
    )
    world.only_the_refusal(error["request_id"], "VALIDATION_FAILED")
