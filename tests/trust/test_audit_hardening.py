"""Issue 11, audit integrity 1, 2, 4 and 5, each reproduced as the review did it.

1. a login holding only the functions' role shadows ``pg_roles`` or ``agent_interactions`` with a
   temporary table to forge or break a chain; ``ops verify`` accepts a row filed in a foreign
   chain;
2. a writer back-dates a row;
4. one customer's request writes into another customer's conversation;
5. a transaction holding a conversation's chain lock stalls every writer of it, unbounded.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from devstack.postgres import FoundPostgres
from ops.verify import GENESIS, SELECT_SQL, canonical_fields, row_hash
from tests.conftest import upstream_claim_count
from tests.integration.conftest import claim_body, headers_for, lookup, post
from tests.trust.conftest import AppLogin, as_migrator

INSERT = (
    "INSERT INTO public.agent_interactions (id, created_at, conversation_id, customer_id, intent, "
    "outcome, payload, request_id, function_name, channel) VALUES (gen_random_uuid(), {at}, %s, "
    "%s, 'policy_lookup', 'ok', '{{}}', 'r', 'f', 'direct')"
)


def _insert(
    conn: psycopg.Connection,
    conversation: str | None,
    customer: str | None = "cust-7788",
    at: str = "now()",
) -> None:
    conn.execute(INSERT.format(at=at), (conversation, customer))  # type: ignore[arg-type]


def _chain(url: str, key: str) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT * FROM agent_interactions WHERE chain_key = %s ORDER BY chain_seq", (key,)
        ).fetchall()


@pytest.fixture
def login_with_temp(pg_server: FoundPostgres, database_url: str) -> Iterator[AppLogin]:
    """A login holding the functions' role and, explicitly, TEMP on the database: a deployment
    where the migration could not revoke TEMP (not the owner). The chain must hold anyway."""
    user = f"ia_tmp_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    password = "pw-" + secrets.token_urlsafe(18)
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(
            f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{password}' IN ROLE insurance_agent_app"
        )
        conn.execute(f'GRANT TEMPORARY ON DATABASE "{info["dbname"]}" TO "{user}"')
    url = (
        f"postgresql://{user}:{password}@{info.get('host', '127.0.0.1')}:"
        f"{info.get('port', 5432)}/{info['dbname']}"
    )
    yield AppLogin(user, password, url)
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (user,)
        )
        conn.execute(f'REVOKE TEMPORARY ON DATABASE "{info["dbname"]}" FROM "{user}"')
        conn.execute(f'DROP ROLE IF EXISTS "{user}"')


# -- 1. search_path hijack ----------------------------------------------------------------------

SHADOW_PG_ROLES = (
    "CREATE TEMP TABLE pg_roles AS SELECT current_user::name AS rolname, false AS rolsuper, "
    "(SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'insurance_agent_migrator') AS oid"
)


def test_the_functions_login_may_not_create_temporary_tables(app_login):
    with (
        psycopg.connect(app_login.url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="temporary"),
    ):
        conn.execute(SHADOW_PG_ROLES)


def test_a_shadowed_pg_roles_does_not_let_a_writer_forge_chain_columns(
    login_with_temp, database_url, conversation_id, run_ops
):
    forged_key = f"conversation:ghost-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(login_with_temp.url, autocommit=True) as conn:
        conn.execute(SHADOW_PG_ROLES)
        conn.execute(
            "INSERT INTO agent_interactions (id, created_at, conversation_id, intent, outcome, "
            "payload, request_id, function_name, channel, chain_key, chain_seq, prev_hash, "
            "row_hash) VALUES (gen_random_uuid(), now(), %s, 'policy_lookup', 'ok', '{}', 'r', "
            "'f', 'direct', %s, 1, %s, %s)",
            (conversation_id, forged_key, GENESIS, "f" * 64),
        )
    assert _chain(database_url, forged_key) == []
    (row,) = _chain(database_url, f"conversation:{conversation_id}")
    assert (row["chain_seq"], row["prev_hash"]) == (1, GENESIS)
    assert row["row_hash"] != "f" * 64
    code, out = run_ops("verify", "--conversation", conversation_id, "--database-url", database_url)
    assert code == 0, out


def test_a_shadowed_agent_interactions_cannot_break_a_chain(
    login_with_temp, database_url, conversation_id, run_ops
):
    key = f"conversation:{conversation_id}"
    with psycopg.connect(login_with_temp.url, autocommit=True) as conn:
        _insert(conn, conversation_id)
        # A fake "last row" far ahead, with a made-up hash, where an unqualified name would look.
        conn.execute(
            "CREATE TEMP TABLE agent_interactions AS SELECT * FROM public.agent_interactions "
            "WHERE false"
        )
        conn.execute(
            "INSERT INTO pg_temp.agent_interactions (id, created_at, conversation_id, intent, "
            "outcome, payload, request_id, function_name, channel, chain_key, chain_seq, "
            "prev_hash, row_hash) VALUES (gen_random_uuid(), now(), %s, 'policy_lookup', 'ok', "
            "'{}', 'r', 'f', 'direct', %s, 41, %s, %s)",
            (conversation_id, key, GENESIS, "e" * 64),
        )
        _insert(conn, conversation_id)
    chain = _chain(database_url, key)
    assert [r["chain_seq"] for r in chain] == [1, 2]
    assert chain[1]["prev_hash"] == chain[0]["row_hash"]
    code, out = run_ops("verify", "--conversation", conversation_id, "--database-url", database_url)
    assert code == 0, out


def _forge_self_consistent_row(url: str, conversation_id: str, chain_key: str) -> None:
    """As the migration role: a row of conversation ``conversation_id`` filed in ``chain_key``,
    its hash recomputed, so the foreign chain is internally consistent."""
    row_id = uuid.uuid4()
    as_migrator(
        url,
        "INSERT INTO agent_interactions (id, created_at, conversation_id, customer_id, intent, "
        "outcome, payload, request_id, function_name, channel, chain_key, chain_seq, "
        "prev_hash, row_hash, hash_version) VALUES (%s, now(), %s, 'cust-7788', "
        "'policy_lookup', 'ok', '{}', 'r', 'f', 'direct', %s, 1, %s, 'x', 2)",
        (row_id, conversation_id, chain_key, GENESIS),
    )
    with psycopg.connect(url) as conn:
        (record,) = conn.execute(SELECT_SQL.format(where="WHERE id = %s"), (row_id,)).fetchall()
    _, seq, prev, _, version, *rendered = record
    digest = row_hash(prev, canonical_fields(int(version), int(seq), rendered))
    as_migrator(url, "UPDATE agent_interactions SET row_hash = %s WHERE id = %s", (digest, row_id))


def test_verify_reports_a_row_filed_in_another_conversations_chain(copy_url, run_ops):
    conversation = f"conv-{uuid.uuid4().hex[:12]}"
    ghost = f"conversation:ghost-{uuid.uuid4().hex[:8]}"
    _forge_self_consistent_row(copy_url, conversation, ghost)

    code, out = run_ops("verify", "--all", "--database-url", copy_url)

    assert code == 1
    (broken,) = [line for line in out.splitlines() if ghost in line]
    assert "at position 1 misfiled:" in broken
    assert f"conversation {conversation}" in broken


# -- 2. back-dated rows ------------------------------------------------------------------------


def test_the_database_sets_created_at_a_back_dated_row_is_stamped_now(
    app_login, database_url, conversation_id, run_ops
):
    with psycopg.connect(app_login.url, autocommit=True) as conn:
        _insert(conn, conversation_id)
        before = datetime.now(UTC)
        _insert(conn, conversation_id, at="now() - interval '2 days'")
        _insert(conn, conversation_id, at="now() + interval '2 days'")
        after = datetime.now(UTC)
    chain = _chain(database_url, f"conversation:{conversation_id}")
    times = [r["created_at"] for r in chain]
    slack = timedelta(seconds=5)  # this machine's and the server's clocks: the same host
    assert before - slack <= times[1] <= after + slack
    assert before - slack <= times[2] <= after + slack
    assert times == sorted(times)
    assert all(r["hash_version"] == 2 for r in chain)
    code, out = run_ops("verify", "--conversation", conversation_id, "--database-url", database_url)
    assert code == 0, out


# -- 4. a conversation belongs to one customer ---------------------------------------------------


def test_the_database_refuses_a_row_of_another_customer_in_a_conversation(
    app_login, database_url, conversation_id
):
    with psycopg.connect(app_login.url, autocommit=True) as conn:
        _insert(conn, conversation_id, customer=None)  # a refusal before the customer was known
        _insert(conn, conversation_id, customer="cust-7788")  # binds the conversation
        _insert(conn, conversation_id, customer=None)
        _insert(conn, conversation_id, customer="cust-7788")
        with pytest.raises(psycopg.Error) as refused:
            _insert(conn, conversation_id, customer="cust-9001")
    assert refused.value.sqlstate == "IA403"
    chain = _chain(database_url, f"conversation:{conversation_id}")
    assert [r["customer_id"] for r in chain] == [None, "cust-7788", None, "cust-7788"]


def test_a_request_for_another_customer_cannot_write_into_a_conversation(
    handlers, fresh_reference, conversation_id, audit_rows
):
    assert lookup(handlers["PolicyLookupFunction"], "POL-10001", headers_for(conversation_id))
    intruder = headers_for(conversation_id, customer_id="cust-9001")

    looked = lookup(handlers["PolicyLookupFunction"], "POL-20001", intruder)
    claims_before = upstream_claim_count(fresh_reference)
    filed = post(
        handlers["ClaimCreateFunction"],
        "ClaimCreateFunction",
        claim_body(policy_number="POL-20001", loss_type="fire"),
        intruder | {"Idempotency-Key": f"idem-{uuid.uuid4().hex}"},
    )

    for answer in (looked, filed):
        assert answer.status == 403, answer.body
        assert answer.body["error"]["code"] == "CONVERSATION_NOT_YOURS"
        assert "POL-20001" not in str(answer.body)  # nothing of the lookup's answer
    assert upstream_claim_count(fresh_reference) == claims_before  # refused before filing
    assert [r["customer_id"] for r in audit_rows(conversation_id)] == ["cust-7788"]
    # The attempts are on record, outside the conversation, under the customer that asked.
    denied = [
        r
        for r in audit_rows(customer_id="cust-9001", error_code="CONVERSATION_NOT_YOURS")
        if r["payload"].get("conversation_id") == conversation_id
    ]
    assert sorted(r["intent"] for r in denied) == ["claim_create", "policy_lookup"]
    assert all(r["outcome"] == "denied" for r in denied)
    assert all(r["conversation_id"] is None for r in denied)
    assert all(r["principal"] for r in denied)  # who asked


def test_a_request_refused_anyway_in_another_customers_conversation_keeps_its_own_answer(
    handlers, fresh_reference, conversation_id, audit_rows
):
    assert lookup(handlers["PolicyLookupFunction"], "POL-10001", headers_for(conversation_id))
    intruder = headers_for(conversation_id, customer_id="cust-9001")

    unknown = lookup(handlers["PolicyLookupFunction"], "POL-99999", intruder)
    malformed = post(
        handlers["ClaimCreateFunction"],
        "ClaimCreateFunction",
        {"policy_number": "POL-20001"},
        intruder | {"Idempotency-Key": f"idem-{uuid.uuid4().hex}"},
    )

    assert (unknown.status, unknown.body["error"]["code"]) == (404, "POLICY_NOT_FOUND")
    assert (malformed.status, malformed.body["error"]["code"]) == (422, "VALIDATION_FAILED")
    assert [r["customer_id"] for r in audit_rows(conversation_id)] == ["cust-7788"]
    elsewhere = [
        r
        for r in audit_rows(customer_id="cust-9001")
        if r["payload"].get("conversation_id") == conversation_id
    ]
    assert sorted(r["error_code"] for r in elsewhere) == ["POLICY_NOT_FOUND", "VALIDATION_FAILED"]


# -- 5. a held chain lock ----------------------------------------------------------------------


def test_a_held_chain_lock_answers_503_within_the_budget_not_a_timeout(
    handlers, fresh_reference, database_url, conversation_id, audit_rows
):
    handler = handlers["PolicyLookupFunction"]
    assert lookup(handler, "POL-10001", headers_for(conversation_id)).status == 200
    with psycopg.connect(database_url) as holder:  # a transaction left open on the chain
        holder.execute(
            "SELECT pg_advisory_xact_lock(1096107081, hashtext(%s))",
            (f"conversation:{conversation_id}",),
        )
        started = time.monotonic()
        answer = lookup(handler, "POL-10001", headers_for(conversation_id))
        waited = time.monotonic() - started
        other = lookup(handler, "POL-10001", headers_for(f"conv-{uuid.uuid4().hex[:12]}"))
    assert answer.status == 503, answer.body
    assert answer.body["error"]["code"] == "AUDIT_UNAVAILABLE"
    assert answer.body["error"]["details"] == {"reason": "LockNotAvailable"}
    # Bounded by the trigger's lock_timeout (1 s), far inside the function's 10 s timeout.
    assert waited < 5, waited
    assert other.status == 200  # other conversations were never held back
    assert lookup(handler, "POL-10001", headers_for(conversation_id)).status == 200
    assert [r["chain_seq"] for r in audit_rows(conversation_id)] == [1, 2]
