"""The right to erasure with an append-only, hash-chained trail (issue 11, 9): personal fields
are stored sealed under the customer's data key; ``ops erase`` destroys the key; the trail still
verifies, the fields cannot be read, and other customers' rows are untouched."""

from __future__ import annotations

import base64
import json
import os
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import psycopg
import pytest
from cryptography.exceptions import InvalidTag
from insurance_agent.errors import ConfigurationError
from insurance_agent.personal_data import (
    ERASED,
    SEALED,
    KmsWrapping,
    LocalWrapping,
    open_personal,
    read_keys,
    sealed_key_ids,
    wrapper_for,
)
from moto import mock_aws
from psycopg.rows import dict_row

from devstack import migrate
from devstack.postgres import FoundPostgres, scratch_database
from tests.conftest import upstream_claim_count
from tests.integration.conftest import claim_body, headers_for, post

FN = "ClaimCreateFunction"


@pytest.fixture
def wrapping_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A development wrapping key, in the environment the operator's tools read too."""
    key = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("AUDIT_WRAPPING_KEY", key)
    return key


@pytest.fixture
def trail_db(pg_server: FoundPostgres) -> Iterator[str]:
    """The functions' audit database for this test alone: erasing a customer here touches no
    other test's rows."""
    with scratch_database(pg_server.url, f"ia_erase_{uuid.uuid4().hex[:8]}") as url:
        migrate.apply(url, only="app")
        yield url


def _file(entry: Any, conversation: str, customer: str, description: str, **body: Any) -> Any:
    headers = headers_for(conversation, customer, **{"Idempotency-Key": f"idem-{uuid.uuid4()}"})
    return post(entry.handler, FN, claim_body(description=description, **body), headers)


def _table_text(url: str, table: str) -> str:
    with psycopg.connect(url) as conn:
        return "\n".join(r[0] for r in conn.execute(f"SELECT t::text FROM {table} t"))


def _trail(run_ops: Any, url: str, conversation: str) -> list[dict[str, Any]]:
    code, out = run_ops("trail", "--conversation", conversation, "--json", "--database-url", url)
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


def test_erasing_a_customer_leaves_a_verifying_trail_with_their_fields_unreadable(
    make_entry, fresh_reference, trail_db, wrapping_key, run_ops
):
    entry = make_entry(
        "claim_create",
        database_url=trail_db,
        fastapi_insurance_base_url=fresh_reference.url,
        fastapi_insurance_api_key=fresh_reference.api_key,
        audit_wrapping_key=wrapping_key,
    )
    mine, theirs = f"mine-{uuid.uuid4().hex[:8]}", f"theirs-{uuid.uuid4().hex[:8]}"
    conv_a, conv_b = f"conv-{uuid.uuid4().hex[:12]}", f"conv-{uuid.uuid4().hex[:12]}"
    assert _file(entry, conv_a, "cust-7788", f"Hail dented the roof {mine}").status == 201
    filed_b = _file(
        entry,
        conv_b,
        "cust-9001",
        f"Kitchen fire {theirs}",
        policy_number="POL-20001",
        loss_type="fire",
    )
    assert filed_b.status == 201, filed_b.body

    # At rest: sealed in the trail and in the idempotency records, readable through the tools.
    for table in ("agent_interactions", "idempotency_records"):
        stored = _table_text(trail_db, table)
        assert mine not in stored, table
        assert theirs not in stored, table
        assert SEALED in stored, table
    rows_a = _trail(run_ops, trail_db, conv_a)
    assert [r["outcome"] for r in rows_a] == ["pending", "ok"]
    assert all(mine in r["payload"]["description"] for r in rows_a)
    assert mine in rows_a[1]["result"]["description"]

    code, out = run_ops("erase", "--customer", "cust-7788", "--database-url", trail_db)

    assert (code, out.strip()) == (
        0,
        "erased 1 key(s) of customer cust-7788; 1 idempotency record(s) deleted",
    )
    code, out = run_ops("verify", "--all", "--database-url", trail_db)
    assert code == 0, out
    assert out.splitlines()[-1] == "OK: 2 chain(s), 4 row(s) verified"
    rows_a = _trail(run_ops, trail_db, conv_a)
    assert [r["payload"]["description"] for r in rows_a] == [ERASED, ERASED]
    assert rows_a[1]["result"]["description"] == ERASED
    assert rows_a[1]["result"]["policy_number"] == "POL-10001"  # what is not personal stays
    assert mine not in json.dumps(rows_a)
    text = run_ops("trail", "--conversation", conv_a, "--database-url", trail_db)[1]
    assert ERASED in text
    assert mine not in text
    # Another customer's rows are untouched.
    assert all(theirs in r["payload"]["description"] for r in _trail(run_ops, trail_db, conv_b))

    # Not merely hidden by the tools: the key is gone from the database, nothing opens the rows.
    with psycopg.connect(trail_db, row_factory=dict_row) as conn:
        keys = conn.execute(
            "SELECT customer_id, wrapped_key, erased_at FROM customer_keys ORDER BY customer_id"
        ).fetchall()
        payloads = [
            r["payload"]
            for r in conn.execute(
                "SELECT payload FROM agent_interactions WHERE conversation_id = %s", (conv_a,)
            )
        ]
        ids = set().union(*(sealed_key_ids(p) for p in payloads))
        assert read_keys(conn, ids, LocalWrapping(base64.b64decode(wrapping_key))) == dict.fromkeys(
            ids
        )
    assert [(k["customer_id"], k["wrapped_key"] is None) for k in keys] == [
        ("cust-7788", True),
        ("cust-9001", False),
    ]
    assert keys[0]["erased_at"] is not None
    assert [open_personal(p, {})["description"] for p in payloads] == [ERASED, ERASED]

    # The customer comes back: the same warm container notices the erasure and uses a new key.
    again = f"again-{uuid.uuid4().hex[:8]}"
    conv_c = f"conv-{uuid.uuid4().hex[:12]}"
    assert _file(entry, conv_c, "cust-7788", f"Cracked windscreen {again}").status == 201
    rows_c = _trail(run_ops, trail_db, conv_c)
    assert all(again in r["payload"]["description"] for r in rows_c)
    with psycopg.connect(trail_db) as conn:
        (live,) = conn.execute(  # type: ignore[misc]
            "SELECT count(*) FROM customer_keys WHERE customer_id = 'cust-7788' "
            "AND erased_at IS NULL"
        ).fetchone()
    assert live == 1
    assert run_ops("verify", "--all", "--database-url", trail_db)[0] == 0


def test_a_replay_after_erasure_files_as_new_and_reads_no_erased_answer(
    make_entry, fresh_reference, trail_db, wrapping_key, run_ops
):
    entry = make_entry(
        "claim_create",
        database_url=trail_db,
        fastapi_insurance_base_url=fresh_reference.url,
        fastapi_insurance_api_key=fresh_reference.api_key,
        audit_wrapping_key=wrapping_key,
    )
    conversation = f"conv-{uuid.uuid4().hex[:12]}"
    headers = headers_for(conversation, **{"Idempotency-Key": f"idem-{uuid.uuid4()}"})
    body = claim_body(description="Scraped the gate post")
    first = post(entry.handler, FN, body, headers)
    assert post(entry.handler, FN, body, headers).body == first.body  # replayed, from the seal
    claims = upstream_claim_count(fresh_reference)

    assert run_ops("erase", "--customer", "cust-7788", "--database-url", trail_db)[0] == 0
    retried = post(entry.handler, FN, body, headers)

    # The record went with the key; upstream deduplicates on the customer-scoped key.
    assert retried.status == 201, retried.body
    assert retried.body["claim_id"] == first.body["claim_id"]
    assert upstream_claim_count(fresh_reference) == claims
    assert run_ops("verify", "--all", "--database-url", trail_db)[0] == 0


# -- who may do what with the keys ---------------------------------------------------------------


def _login(pg_server: FoundPostgres, url: str, role: str) -> tuple[str, str]:
    user = f"ia_{role.rsplit('_', 1)[-1]}_{uuid.uuid4().hex[:6]}"
    password = "pw-" + secrets.token_urlsafe(18)
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{password}' IN ROLE {role}")
    info = psycopg.conninfo.conninfo_to_dict(url)
    return user, (
        f"postgresql://{user}:{password}@{info.get('host', '127.0.0.1')}:"
        f"{info.get('port', 5432)}/{info['dbname']}"
    )


def test_the_functions_make_keys_the_eraser_erases_them_and_nobody_restores_one(
    pg_server, trail_db, run_ops
):
    app_user, as_app = _login(pg_server, trail_db, "insurance_agent_app")
    eraser_user, as_eraser = _login(pg_server, trail_db, "insurance_agent_eraser")
    try:
        with psycopg.connect(as_app, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO customer_keys (key_id, customer_id, wrapped_key, wrapping) "
                "VALUES (gen_random_uuid(), 'cust-1', 'k', 'none')"
            )
            for statement in (
                "UPDATE customer_keys SET wrapped_key = NULL, erased_at = now()",
                "DELETE FROM customer_keys",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
        with psycopg.connect(as_eraser, autocommit=True) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT wrapped_key FROM customer_keys")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT * FROM agent_interactions")
        code, out = run_ops("erase", "--customer", "cust-1", "--database-url", as_eraser)
        assert (code, out.split()[:2]) == (0, ["erased", "1"])
        with (
            psycopg.connect(as_eraser, autocommit=True) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="only be erased"),
        ):
            conn.execute(
                "UPDATE customer_keys SET wrapped_key = 'k', erased_at = NULL "
                "WHERE customer_id = 'cust-1'"
            )
    finally:
        with psycopg.connect(pg_server.url, autocommit=True) as conn:
            for user in (app_user, eraser_user):
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                    (user,),
                )
                conn.execute(f'DROP ROLE IF EXISTS "{user}"')


# -- wrapping the data keys --------------------------------------------------------------------


def test_local_wrapping_binds_a_key_to_its_customer():
    wrapper = LocalWrapping(os.urandom(32))
    plain, wrapped = wrapper.new_key("cust-7788")
    assert plain not in wrapped
    assert wrapper.unwrap(wrapped, "cust-7788") == plain
    with pytest.raises(InvalidTag):
        wrapper.unwrap(wrapped, "cust-9001")


def test_kms_wrapping_is_envelope_encryption_under_the_customers_context():
    with mock_aws():
        kms = boto3.client("kms", region_name="eu-west-1")
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        wrapper = KmsWrapping(key_id, "eu-west-1", client=kms)
        plain, wrapped = wrapper.new_key("cust-7788")
        assert len(plain) == 32
        assert plain not in wrapped
        assert wrapper.unwrap(wrapped, "cust-7788") == plain
        with pytest.raises(kms.exceptions.InvalidCiphertextException):
            wrapper.unwrap(wrapped, "cust-9001")


def test_the_wrapping_is_chosen_by_setting():
    assert wrapper_for("alias/audit", None).name == "kms"
    assert wrapper_for(None, base64.b64encode(os.urandom(32)).decode()).name == "local"
    assert wrapper_for(None, None).name == "none"
    with pytest.raises(ConfigurationError, match="32 bytes"):
        wrapper_for(None, base64.b64encode(b"short").decode())
