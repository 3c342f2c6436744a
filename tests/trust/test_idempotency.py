"""Idempotent claim creation, end to end: the first answer replayed without a second upstream
call, a different body refused as a conflict, a request in progress refused with a retry hint,
records that expire, one record shared by every door of the function, keys scoped per
customer, and a hundred containers racing on one key filing exactly one claim."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from insurance_agent.errors import RequestInProgress
from insurance_agent.personal_data import open_rows, wrapper_from_environment
from insurance_agent.ports import AuditEntry
from psycopg.rows import dict_row

from devstack import migrate
from devstack.bedrock_events import bedrock_event, response_json
from devstack.events import LambdaContext
from devstack.private_postgres import private_cluster
from devstack.stack import ReferenceService
from tests.conftest import upstream_claim_count
from tests.integration.conftest import claim_body, headers_for, post
from tests.trust import crowd

FN = "ClaimCreateFunction"
CLAIMS = "POST /v1/claims"


def _key() -> str:
    return f"idem-{uuid.uuid4().hex[:16]}"


def _upstream_routes(reference: ReferenceService) -> Counter[str]:
    with reference.admin() as admin:
        return Counter(admin.get("/_admin/stats").json()["routes"])


def _reset_upstream_stats(reference: ReferenceService) -> None:
    with reference.admin() as admin:
        admin.post("/_admin/stats/reset").raise_for_status()


def _rows(url: str, idempotency_key: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT * FROM agent_interactions WHERE idempotency_key = %s ORDER BY created_at, id",
            (idempotency_key,),
        ).fetchall()


def _records(url: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        rows = conn.execute("SELECT * FROM idempotency_records").fetchall()
    return {r["idempotency_key"]: r for r in rows}


def _newest_record(url: str) -> dict[str, Any] | None:
    """The record written last (tests run one at a time; keys are stored hashed)."""
    return max(_records(url).values(), key=lambda r: r["updated_at"], default=None)


def _claim(handler: Any, conversation_id: str, key: str, **overrides: Any) -> Any:
    customer = overrides.pop("customer_id", "cust-7788")
    headers = headers_for(conversation_id, customer, **{"Idempotency-Key": key})
    return post(handler, FN, claim_body(**overrides), headers)


def _assert_filed_once(rows: list[dict[str, Any]]) -> None:
    """One pending intent and one ok row naming it: the filing, audited exactly once."""
    pending = [r for r in rows if r["outcome"] == "pending"]
    filed = [r for r in rows if r["outcome"] == "ok" and r["intent_id"] is not None]
    assert len(pending) == 1, rows
    assert [r["intent_id"] for r in filed] == [pending[0]["id"]]
    assert "idempotent_replay" not in filed[0]["result"]


# -- replay, conflict, in progress -------------------------------------------------------------


def test_a_retry_is_answered_with_the_first_answer_and_never_reaches_upstream(
    handlers, fresh_reference, database_url, conversation_id, run_ops
):
    key = _key()
    first = _claim(handlers[FN], conversation_id, key)
    assert first.status == 201, first.body
    claims_after_first = upstream_claim_count(fresh_reference)
    _reset_upstream_stats(fresh_reference)

    again = _claim(handlers[FN], conversation_id, key)

    assert (again.status, again.body) == (201, first.body)
    with fresh_reference.admin() as admin:
        assert admin.get("/_admin/stats").json()["requests"] == 0  # no policy read, no filing
    assert upstream_claim_count(fresh_reference) == claims_after_first
    rows = _rows(database_url, key)
    _assert_filed_once(rows)
    replay = rows[-1]
    assert (replay["outcome"], replay["intent_id"], replay["error_code"]) == ("ok", None, None)
    with psycopg.connect(database_url) as conn:  # the description is sealed (docs/audit.md)
        (replay,) = open_rows(conn, [replay], wrapper_from_environment())
    # The row keeps what was answered; the answer names its audit row, the row does not.
    recorded = {k: v for k, v in first.body.items() if k != "audit_id"}
    assert replay["result"] == recorded | {"idempotent_replay": True}
    assert again.body["audit_id"] != str(replay["id"])  # the first filing's row, not its own
    assert replay["request_id"] != rows[1]["request_id"]
    code, trail = run_ops(
        "trail", "--conversation", conversation_id, "--database-url", database_url
    )
    assert code == 0
    assert [line.count("(replayed: ") for line in trail.splitlines()[:3]] == [0, 0, 1]


def test_the_same_key_with_another_body_is_a_conflict_and_files_nothing(
    handlers, fresh_reference, database_url, conversation_id
):
    key = _key()
    first = _claim(handlers[FN], conversation_id, key)
    _reset_upstream_stats(fresh_reference)

    other = _claim(handlers[FN], conversation_id, key, description="A different loss.")

    assert other.status == 409
    assert other.body["error"]["code"] == "IDEMPOTENCY_CONFLICT"
    assert "retry-after" not in other.headers
    assert _upstream_routes(fresh_reference)[CLAIMS] == 0
    refused = _rows(database_url, key)[-1]
    assert (refused["outcome"], refused["error_code"]) == ("error", "IDEMPOTENCY_CONFLICT")
    # The key still stands for the first claim.
    assert _claim(handlers[FN], conversation_id, key).body == first.body


def test_a_request_still_in_progress_is_refused_with_a_retry_hint(
    make_entry, fresh_reference, database_url, conversation_id
):
    key = _key()
    first_container, second_container = (make_entry("claim_create") for _ in range(2))
    with fresh_reference.admin() as admin:  # upstream takes its time over the filing
        rule = {"path_prefix": "/v1/claims", "method": "POST", "delay_s": 1.5}
        admin.post("/_admin/faults", json=rule).raise_for_status()
    answers: dict[str, Any] = {}
    filing = threading.Thread(
        target=lambda: answers.update(first=_claim(first_container.handler, conversation_id, key))
    )
    started = datetime.now(UTC)
    filing.start()
    deadline = time.monotonic() + 5
    while (taken := _newest_record(database_url)) is None or taken["updated_at"] < started:
        assert time.monotonic() < deadline, "the first request never took the key"
        time.sleep(0.02)
    assert taken["status"] == "INPROGRESS"

    refused = _claim(second_container.handler, conversation_id, key)
    filing.join()

    assert refused.status == 409
    assert refused.body["error"]["code"] == "REQUEST_IN_PROGRESS"
    assert refused.body["error"]["details"]["retry_after_s"] == 1
    assert refused.headers["retry-after"] == "1"
    assert answers["first"].status == 201
    # Retried as told, after the first has finished: its answer.
    retried = _claim(second_container.handler, conversation_id, key)
    assert (retried.status, retried.body) == (201, answers["first"].body)
    assert _upstream_routes(fresh_reference)[CLAIMS] == 1
    rows = _rows(database_url, key)
    _assert_filed_once(rows)
    assert [(r["outcome"], r["error_code"]) for r in rows if r["outcome"] == "error"] == [
        ("error", "REQUEST_IN_PROGRESS")
    ]


def test_the_record_completes_with_the_first_answers_row_and_a_retry_meanwhile_waits(
    make_entry, fresh_reference, database_url, conversation_id
):
    """The idempotency record completes in the statement that writes the first filing's ok
    row, not before it: a retry while that row is on its way meets a key in progress and is
    told to retry, never a 201 naming a row of its own; then it gets the first answer."""
    key = _key()
    first_container, second_container = (make_entry("claim_create") for _ in range(2))
    audit = first_container.runtime.services.audit
    writing_answer, release = threading.Event(), threading.Event()
    record = audit.record

    def slow_answer_row(entry: Any, **kwargs: Any) -> Any:
        if entry.outcome == "ok" and entry.intent_id is not None:
            writing_answer.set()
            assert release.wait(10)
        return record(entry, **kwargs)

    audit.record = slow_answer_row
    answers: dict[str, Any] = {}
    filing = threading.Thread(
        target=lambda: answers.update(first=_claim(first_container.handler, conversation_id, key))
    )
    filing.start()
    try:
        assert writing_answer.wait(10), "the first filing never reached its answer's row"
        taken = _newest_record(database_url)
        assert taken is not None
        assert (taken["status"], taken["response_data"]) == ("INPROGRESS", None)
        early = _claim(second_container.handler, conversation_id, key)
    finally:
        release.set()
        filing.join()

    assert (early.status, early.body["error"]["code"]) == (409, "REQUEST_IN_PROGRESS")
    assert early.headers["retry-after"] == "1"
    assert answers["first"].status == 201
    completed = _records(database_url)[taken["idempotency_key"]]
    assert completed["status"] == "COMPLETED"
    retried = _claim(second_container.handler, conversation_id, key)
    assert (retried.status, retried.body) == (201, answers["first"].body)
    assert _upstream_routes(fresh_reference)[CLAIMS] == 1
    _assert_filed_once(_rows(database_url, key))


def test_a_warm_filing_makes_three_database_statements(
    make_entry, fresh_reference, conversation_id, monkeypatch
):
    """Take the key, write the intent, write the answer's row with the record's completion:
    the completion shares the answer row's round trip instead of an UPDATE of its own."""
    entry = make_entry("claim_create")
    assert _claim(entry.handler, conversation_id, _key()).status == 201  # warm: keys, pool
    statements: list[str] = []
    execute = psycopg.Connection.execute

    def counted(conn: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        statements.append(" ".join(str(query).split())[:60])
        return execute(conn, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", counted)
    assert _claim(entry.handler, conversation_id, _key()).status == 201
    monkeypatch.undo()

    assert [s.split(" (")[0] for s in statements] == [
        "INSERT INTO idempotency_records AS r",
        "INSERT INTO agent_interactions",
        "WITH completed_record AS",
    ], statements


def test_a_filing_whose_answer_row_fails_leaves_its_key_in_progress(
    make_entry, fresh_reference, database_url, conversation_id
):
    """The answer's row and the record's completion are one statement: when the row is refused
    the record is not completed either, so no retry is ever answered 201 from a record whose
    first answer has no row. The filing answers 503; its intent stays for the reconciler."""
    key = _key()
    first_container, second_container = (make_entry("claim_create") for _ in range(2))
    audit = first_container.runtime.services.audit
    record = audit.record

    def answer_row_refused(entry: Any, **kwargs: Any) -> Any:
        if entry.outcome == "ok" and entry.intent_id is not None:
            # An intent id that names no row: the trail's trigger refuses the INSERT (23503).
            entry = dataclasses.replace(entry, intent_id=uuid.uuid4())
        return record(entry, **kwargs)

    audit.record = answer_row_refused
    first = _claim(first_container.handler, conversation_id, key)

    assert (first.status, first.body["error"]["code"]) == (503, "AUDIT_UNAVAILABLE")
    taken = _newest_record(database_url)
    assert taken is not None
    assert (taken["status"], taken["response_data"]) == ("INPROGRESS", None)
    retried = _claim(second_container.handler, conversation_id, key)
    assert (retried.status, retried.body["error"]["code"]) == (409, "REQUEST_IN_PROGRESS")
    assert [r["outcome"] for r in _rows(database_url, key)] == ["pending", "error"]


def test_a_replay_of_a_completed_key_whose_answer_has_no_row_yet_is_told_to_retry(
    make_entry, database_url, conversation_id
):
    """A record completed apart from its answer's row (by ``once`` without ``completed_by``,
    or before the two were one statement) and a filing whose row is not written yet: the
    evidence refuses to name an answer until the row is there, then names it."""
    key = _key()
    services = make_entry("claim_create").runtime.services
    evidence = services.evidence
    assert evidence is not None
    ctx_entry = AuditEntry(
        intent="claim_create",
        outcome="pending",
        payload={"policy_number": "POL-10001"},
        result=None,
        request_id="req-evidence",
        function_name=FN,
        channel="http",
        conversation_id=conversation_id,
        customer_id="cust-7788",
        idempotency_key=key,
    )
    assert evidence.first_answer("cust-7788", "claim_create", key) is None
    intent_id = services.audit.record(ctx_entry)
    with pytest.raises(RequestInProgress):
        evidence.first_answer("cust-7788", "claim_create", key)
    answer_id = services.audit.record(
        dataclasses.replace(
            ctx_entry, outcome="ok", result={"claim_id": "CLM-1"}, intent_id=intent_id
        )
    )
    assert evidence.first_answer("cust-7788", "claim_create", key) == answer_id


# -- expiry --------------------------------------------------------------------------------


def test_after_the_ttl_a_key_is_processed_again(
    make_entry, fresh_reference, database_url, conversation_id
):
    entry = make_entry("claim_create", idempotency_ttl_s=1)
    key = _key()
    first = _claim(entry.handler, conversation_id, key)
    record = _newest_record(database_url)
    assert record is not None
    assert record["status"] == "COMPLETED"
    time.sleep(2.1)  # Powertools counts expiry in whole seconds

    again = _claim(entry.handler, conversation_id, key)

    # Our record expired, so the filing ran again; upstream deduplicated on the same key.
    assert again.status == 201
    assert again.body["claim_id"] == first.body["claim_id"]
    assert _upstream_routes(fresh_reference)[CLAIMS] == 2
    assert [r["outcome"] for r in _rows(database_url, key)] == ["pending", "ok", "pending", "ok"]
    renewed = _records(database_url)[record["idempotency_key"]]
    assert renewed["expires_at"] > record["expires_at"]


# -- one record for every door, one per customer -------------------------------------------


def test_http_direct_and_bedrock_share_one_record(
    handlers, fresh_reference, database_url, conversation_id
):
    key = _key()
    over_http = _claim(handlers[FN], conversation_id, key)
    _reset_upstream_stats(fresh_reference)
    task = {"conversation_id": conversation_id, "customer_id": "cust-7788", "idempotency_key": key}

    direct = handlers[FN](task | claim_body(), LambdaContext(function_name=FN))
    event = bedrock_event(
        "/claims",
        "POST",
        body=claim_body(),
        session_attributes={
            "conversation_id": conversation_id,
            "customer_id": "cust-7788",
            "idempotency_key": key,
        },
    )
    bedrock = handlers[FN](event, LambdaContext(function_name=FN))

    assert direct == over_http.body
    assert bedrock["response"]["httpStatusCode"] == 201
    assert response_json(bedrock) == over_http.body
    assert _upstream_routes(fresh_reference).total() == 0
    rows = _rows(database_url, key)
    _assert_filed_once(rows)
    replays = [(r["channel"], r["result"]["idempotent_replay"]) for r in rows[2:]]
    assert replays == [("direct", True), ("bedrock", True)]


def test_a_step_functions_retry_after_a_lost_answer_replays(
    handlers, fresh_reference, database_url, conversation_id
):
    """The workflow reuses its idempotency_key on every attempt: an attempt whose answer was
    lost (filed, then the invocation failed) is answered from the record."""
    key = _key()
    task = {"conversation_id": conversation_id, "customer_id": "cust-7788", "idempotency_key": key}
    first = handlers[FN](task | claim_body(), LambdaContext(function_name=FN))
    _reset_upstream_stats(fresh_reference)

    retried = handlers[FN](task | claim_body(), LambdaContext(function_name=FN))

    assert retried == first
    assert _upstream_routes(fresh_reference).total() == 0
    _assert_filed_once(_rows(database_url, key))


def test_two_customers_may_use_the_same_key(
    handlers, fresh_reference, database_url, conversation_id
):
    key = _key()
    before = upstream_claim_count(fresh_reference)

    mine = _claim(handlers[FN], conversation_id, key)
    theirs = _claim(
        handlers[FN],
        f"{conversation_id}-theirs",  # a conversation is one customer's
        key,
        customer_id="cust-9001",
        policy_number="POL-20001",
        loss_type="fire",
    )

    assert (mine.status, theirs.status) == (201, 201), theirs.body
    assert mine.body["claim_id"] != theirs.body["claim_id"]
    assert (mine.body["customer_id"], theirs.body["customer_id"]) == ("cust-7788", "cust-9001")
    assert upstream_claim_count(fresh_reference) == before + 2
    rows = _rows(database_url, key)
    assert Counter((r["customer_id"], r["outcome"]) for r in rows) == {
        ("cust-7788", "pending"): 1,
        ("cust-7788", "ok"): 1,
        ("cust-9001", "pending"): 1,
        ("cust-9001", "ok"): 1,
    }


def test_another_customer_sending_my_key_and_body_never_gets_my_answer(
    handlers, fresh_reference, database_url, conversation_id
):
    """The scope of a key is (customer, key): without the customer in the record's key and in
    the request hash, this replays my claim to another customer (or calls it a conflict)."""
    key = _key()
    mine = _claim(handlers[FN], conversation_id, key)
    assert mine.status == 201, mine.body
    before = upstream_claim_count(fresh_reference)

    # Another customer, my key, my very body: processed as their own request, which names a
    # policy that is not theirs.
    theirs = _claim(handlers[FN], f"{conversation_id}-theirs", key, customer_id="cust-9001")

    assert theirs.status == 404, theirs.body
    assert theirs.body["error"]["code"] == "POLICY_NOT_FOUND"
    assert mine.body["claim_id"] not in str(theirs.body)
    assert upstream_claim_count(fresh_reference) == before
    assert [r["outcome"] for r in _rows(database_url, key) if r["customer_id"] == "cust-9001"] == [
        "denied"
    ]


def test_the_functions_role_has_what_idempotency_needs(
    app_login, make_entry, fresh_reference, conversation_id
):
    entry = make_entry("claim_create", database_url=app_login.url)
    key = _key()
    first = _claim(entry.handler, conversation_id, key)
    again = _claim(entry.handler, conversation_id, key)
    failed = _claim(entry.handler, conversation_id, _key(), policy_number="POL-10002")

    assert (first.status, again.status, again.body) == (201, 201, first.body)
    assert failed.status == 422  # its record was deleted again: DELETE is granted too


# -- a hundred containers, one key ---------------------------------------------------------

CONTAINERS = 100
PROCESSES = 4


@pytest.mark.slow
def test_a_hundred_containers_racing_on_one_key_file_one_claim(
    reference_without_dedup, conversation_id
):
    fresh_reference = reference_without_dedup  # one claim: our idempotency layer, not upstream's
    key = _key()
    before = upstream_claim_count(fresh_reference)
    # A cluster of our own: a hundred containers hold a hundred connections, which the shared
    # server (max_connections 100, shared with other test runs) cannot spare.
    with private_cluster(max_connections=CONTAINERS + 20) as cluster:
        audit_url = cluster.create_database("audit")
        migrate.apply(audit_url, only="app")
        settings = {
            "database_url": audit_url,
            "fastapi_insurance_base_url": fresh_reference.url,
            "fastapi_insurance_api_key": fresh_reference.api_key,
            "db_pool_timeout_s": 10.0,
        }
        headers = headers_for(conversation_id, **{"Idempotency-Key": key})
        answers = crowd.send_at_once(
            settings, headers, claim_body(), containers=CONTAINERS, processes=PROCESSES
        )
        rows = _rows(audit_url, key)
        records = _records(audit_url)

    assert [a for a in answers if "crashed" in a] == []
    statuses = Counter(a["status"] for a in answers)
    print(f"\n{CONTAINERS} containers, one key: answers {dict(statuses)}")
    created = [a for a in answers if a["status"] == 201]
    refused = [a for a in answers if a["status"] != 201]
    assert created, statuses
    # Listed, not all(): a failure shows which answers differ and in what.
    assert [a["body"] for a in created if a["body"] != created[0]["body"]] == [], created[0]
    assert all(a["status"] == 409 for a in refused), statuses
    assert {a["body"]["error"]["code"] for a in refused} <= {"REQUEST_IN_PROGRESS"}
    assert all(a["headers"]["retry-after"] == "1" for a in refused)
    # Upstream: one claim, filed by one request.
    assert upstream_claim_count(fresh_reference) == before + 1
    assert _upstream_routes(fresh_reference)[CLAIMS] == 1
    # The audit: the filing once; every other answer its own row, as answered.
    _assert_filed_once(rows)
    assert len(rows) == CONTAINERS + 1
    by_request = {r["request_id"]: r for r in rows if r["outcome"] != "pending"}
    assert set(by_request) == {a["request_id"] for a in answers}
    for answer in answers:
        row = by_request[answer["request_id"]]
        if answer["status"] == 201:
            assert row["outcome"] == "ok"
            assert (row["intent_id"] is None) == row["result"].get("idempotent_replay", False)
        else:
            assert (row["outcome"], row["error_code"]) == ("error", "REQUEST_IN_PROGRESS")
    (record,) = records.values()
    assert record["status"] == "COMPLETED"
