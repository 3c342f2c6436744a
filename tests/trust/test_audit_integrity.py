"""The audit trail cannot be quietly changed: append-only in the database, hash-chained per
conversation, and ``python -m ops verify`` catches a changed, removed or reordered row."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import psycopg
import pytest
from insurance_agent.audit import PostgresAuditStore
from insurance_agent.database import Database
from insurance_agent.ports import AuditEntry
from insurance_agent.settings import Settings
from yoyo import get_backend, read_migrations

from devstack import migrate
from devstack.pg_urls import with_database, with_login
from devstack.postgres import scratch_database
from ops.verify import (
    GENESIS,
    RENDERED_COLUMNS,
    SELECT_SQL,
    canonical_fields,
    encode_fields,
    load_checkpoint,
)
from tests.integration.conftest import claim_body, headers_for, lookup, post
from tests.trust.conftest import as_migrator, copy_chain

APPEND_ONLY = "append-only"


def _entry(conversation_id: str | None, n: int = 0) -> AuditEntry:
    return AuditEntry(
        intent="policy_lookup",
        outcome="ok",
        payload={"policy_number": "POL-10001", "n": n, "note": "naïve 1.50"},
        result={"amount": 1.5, "big": 10**20, "nested": {"b": [1, 2], "a": None}},
        request_id=f"req-{uuid.uuid4().hex[:8]}",
        function_name="PolicyLookupFunction",
        channel="direct",
        conversation_id=conversation_id,
        customer_id="cust-7788",
    )


def _chain(url: str, conversation_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "SELECT id, chain_key, chain_seq, prev_hash, row_hash FROM agent_interactions "
            "WHERE conversation_id = %s ORDER BY chain_seq",
            (conversation_id,),
        ).fetchall()


def _applied(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT migration_id FROM _yoyo_migration")}


def _lookups(handlers: dict[str, Any], conversation_id: str, count: int) -> None:
    for _ in range(count):
        answer = lookup(handlers["PolicyLookupFunction"], "POL-10001", headers_for(conversation_id))
        assert answer.status == 200


# -- append-only ------------------------------------------------------------------------------


def test_the_functions_role_may_insert_and_read_but_never_change(
    app_login, make_entry, fresh_reference, conversation_id
):
    entry = make_entry(
        "policy_lookup",
        database_url=app_login.url,
        fastapi_insurance_base_url=fresh_reference.url,
        fastapi_insurance_api_key=fresh_reference.api_key,
    )
    answer = lookup(entry.handler, "POL-10001", headers_for(conversation_id))
    assert answer.status == 200

    with psycopg.connect(app_login.url, autocommit=True) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM agent_interactions WHERE conversation_id = %s",
            (conversation_id,),
        ).fetchone()  # type: ignore[misc]
        assert count == 1
        for statement in (
            "UPDATE agent_interactions SET outcome = 'error' WHERE conversation_id = %s",
            "DELETE FROM agent_interactions WHERE conversation_id = %s",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                conn.execute(statement, (conversation_id,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            conn.execute("TRUNCATE agent_interactions")


def test_the_owner_is_refused_too_unless_it_becomes_the_migration_role(
    database_url, copy_url, handlers, fresh_reference, conversation_id
):
    _lookups(handlers, conversation_id, 1)
    with psycopg.connect(database_url, autocommit=True) as conn:  # a superuser, the owner
        for statement in (
            "UPDATE agent_interactions SET outcome = 'error' WHERE conversation_id = %s",
            "DELETE FROM agent_interactions WHERE conversation_id = %s",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match=APPEND_ONLY):
                conn.execute(statement, (conversation_id,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=APPEND_ONLY):
            conn.execute("TRUNCATE agent_interactions")

    # On a copy: the migration role may rewrite (that is what makes the chain necessary).
    assert copy_chain(database_url, copy_url, conversation_id) == 1
    as_migrator(
        copy_url,
        "UPDATE agent_interactions SET outcome = 'error', error_code = 'X' "
        "WHERE conversation_id = %s",
        (conversation_id,),
    )
    with psycopg.connect(copy_url) as conn:
        row = conn.execute(
            "SELECT outcome FROM agent_interactions WHERE conversation_id = %s", (conversation_id,)
        ).fetchone()
    assert row == ("error",)


# -- the chain ----------------------------------------------------------------------------------


def test_a_conversation_is_one_chain_linked_in_the_order_written(
    database_url, handlers, fresh_reference, conversation_id, run_ops
):
    _lookups(handlers, conversation_id, 2)
    filed = post(
        handlers["ClaimCreateFunction"],
        "ClaimCreateFunction",
        claim_body(),
        headers_for(conversation_id, **{"Idempotency-Key": f"idem-{uuid.uuid4().hex}"}),
    )
    assert filed.status == 201

    chain = _chain(database_url, conversation_id)
    assert [r["chain_seq"] for r in chain] == [1, 2, 3, 4]  # 2 lookups, pending + result
    assert {r["chain_key"] for r in chain} == {f"conversation:{conversation_id}"}
    assert chain[0]["prev_hash"] == GENESIS
    assert [r["prev_hash"] for r in chain[1:]] == [r["row_hash"] for r in chain[:-1]]
    code, out = run_ops("verify", "--conversation", conversation_id, "--database-url", database_url)
    assert (code, out.splitlines()[-1]) == (0, "OK: 1 chain(s), 4 row(s) verified")


def test_a_writer_cannot_forge_the_chain_columns(database_url, conversation_id, run_ops):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO agent_interactions (id, created_at, conversation_id, intent, outcome, "
            "payload, request_id, function_name, channel, chain_key, chain_seq, prev_hash, "
            "row_hash) VALUES (gen_random_uuid(), now(), %s, 'policy_lookup', 'ok', '{}', 'r', "
            "'f', 'direct', 'conversation:other', 99, 'forged', 'forged')",
            (conversation_id,),
        )
    (row,) = _chain(database_url, conversation_id)
    assert (row["chain_key"], row["chain_seq"], row["prev_hash"]) == (
        f"conversation:{conversation_id}",
        1,
        GENESIS,
    )
    assert row["row_hash"] != "forged"
    assert (
        run_ops("verify", "--conversation", conversation_id, "--database-url", database_url)[0] == 0
    )


def test_concurrent_writers_of_one_conversation_extend_one_chain(
    function_env, database_url, conversation_id, run_ops
):
    writers, per_writer = 6, 12
    settings = Settings()  # the session's function environment
    databases = [Database(settings, name=f"writer-{i}") for i in range(writers)]
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(database: Database) -> None:
        store = PostgresAuditStore(database)
        start.wait(timeout=10)
        try:
            for n in range(per_writer):
                store.record(_entry(conversation_id, n))
        except BaseException as exc:  # noqa: BLE001  -- reported below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(db,)) for db in databases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for db in databases:
        db.close()

    assert failures == []
    chain = _chain(database_url, conversation_id)
    assert [r["chain_seq"] for r in chain] == list(range(1, writers * per_writer + 1))
    code, out = run_ops("verify", "--conversation", conversation_id, "--database-url", database_url)
    assert code == 0, out


def test_the_chain_lock_holds_back_only_writers_of_the_same_conversation(
    function_env, database_url
):
    busy, other = f"conv-busy-{uuid.uuid4().hex[:8]}", f"conv-free-{uuid.uuid4().hex[:8]}"
    insert = (
        "INSERT INTO agent_interactions (id, created_at, conversation_id, intent, outcome, "
        "payload, request_id, function_name, channel) VALUES (gen_random_uuid(), now(), %s, "
        "'policy_lookup', 'ok', '{}', 'r', 'f', 'direct')"
    )
    with (
        psycopg.connect(database_url) as holder,  # a transaction left open, holding busy's lock
        psycopg.connect(database_url, autocommit=True) as writer,
    ):
        holder.execute(insert, (busy,))
        writer.execute("SET lock_timeout = '300ms'")
        writer.execute(insert, (other,))  # another conversation: not held back
        with pytest.raises(psycopg.errors.LockNotAvailable):
            writer.execute(insert, (busy,))
        holder.commit()
        writer.execute(insert, (busy,))
    assert [r["chain_seq"] for r in _chain(database_url, busy)] == [1, 2]


# -- verify catches tampering (on a copy) ------------------------------------------------------

TAMPERING = {
    "changed": (
        'UPDATE agent_interactions SET payload = \'{"policy_number": "POL-10002"}\' '
        "WHERE conversation_id = %(c)s AND chain_seq = 2",
        2,
    ),
    "removed": (
        "DELETE FROM agent_interactions WHERE conversation_id = %(c)s AND chain_seq = 2",
        3,
    ),
    # Swap positions 2 and 3 (through -1: positions are unique).
    "reordered": (
        "UPDATE agent_interactions SET chain_seq = -1 WHERE conversation_id = %(c)s "
        "AND chain_seq = 2; UPDATE agent_interactions SET chain_seq = 2 WHERE "
        "conversation_id = %(c)s AND chain_seq = 3; UPDATE agent_interactions SET chain_seq = 3 "
        "WHERE conversation_id = %(c)s AND chain_seq = -1",
        2,
    ),
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_verify_reports_the_first_tampered_row_and_exits_non_zero(
    kind, database_url, copy_url, handlers, fresh_reference, conversation_id, run_ops
):
    _lookups(handlers, conversation_id, 4)
    assert copy_chain(database_url, copy_url, conversation_id) == 4
    code, out = run_ops("verify", "--conversation", conversation_id, "--database-url", copy_url)
    assert code == 0, f"the untouched copy must verify: {out}"

    statement, reported_position = TAMPERING[kind]
    for part in statement.split("; "):
        as_migrator(copy_url, part, {"c": conversation_id})
    code, out = run_ops("verify", "--conversation", conversation_id, "--database-url", copy_url)

    assert code == 1
    # The first break; a swap also breaks the links after it, and those are listed too.
    broken = next(line for line in out.splitlines() if line.startswith("BROKEN"))
    assert f"conversation:{conversation_id}" in broken
    assert f"at position {reported_position} {kind}:" in broken
    # The original trail is untouched and still verifies.
    assert (
        run_ops("verify", "--conversation", conversation_id, "--database-url", database_url)[0] == 0
    )


# Every column of a row, tampered with one at a time on row 2 (an error row, so outcome and
# error_code can change within the table's checks): verify must notice each. A column added to
# the table later fails the completeness test below until it is hashed and listed here.
_ROW = "(SELECT id FROM agent_interactions WHERE conversation_id = %(c)s AND chain_seq = 1)"
COLUMN_TAMPERING = {
    "id": ("gen_random_uuid()", "changed"),
    "created_at": ("created_at - interval '1 hour'", "changed"),
    "chain_key": ("chain_key || '-moved'", "removed"),  # leaves a hole where it was
    "chain_seq": ("99", "reordered"),
    "prev_hash": ("repeat('1', 64)", "removed"),
    "row_hash": ("repeat('1', 64)", "changed"),
    "hash_version": ("1", "changed"),
    "conversation_id": ("conversation_id || '-moved'", "misfiled"),
    "customer_id": ("'cust-9001'", "changed"),
    "intent": ("'claim_summary'", "changed"),
    "outcome": ("'denied'", "changed"),
    "error_code": ("'FORBIDDEN'", "changed"),
    "payload": ('\'{"policy_number": "POL-10002"}\'', "changed"),
    "result": ("result || '{\"extra\": 1}'", "changed"),
    "request_id": ("request_id || '-x'", "changed"),
    "function_name": ("'ClaimCreateFunction'", "changed"),
    "channel": ("CASE channel WHEN 'direct' THEN 'http' ELSE 'direct' END", "changed"),
    "principal": ("COALESCE(principal, '') || '-x'", "changed"),
    "idempotency_key": ("'idem-forged'", "changed"),
    "duration_ms": ("COALESCE(duration_ms, 0) + 1", "changed"),
    "intent_id": (_ROW, "changed"),
}
UNHASHED: set[str] = set()  # columns the chain does not protect, each with a reason


def test_every_column_of_the_table_is_in_the_tampering_list(database_url):
    with psycopg.connect(database_url) as conn:
        columns = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name = 'agent_interactions'"
            )
        }
    assert columns == set(COLUMN_TAMPERING) | UNHASHED


@pytest.mark.parametrize("column", sorted(COLUMN_TAMPERING))
def test_verify_notices_each_column_tampered_with(
    column, database_url, copy_url, handlers, fresh_reference, conversation_id, run_ops
):
    handler = handlers["PolicyLookupFunction"]
    _lookups(handlers, conversation_id, 1)
    assert lookup(handler, "POL-99999", headers_for(conversation_id)).status == 404
    _lookups(handlers, conversation_id, 2)
    assert copy_chain(database_url, copy_url, conversation_id) == 4
    assert run_ops("verify", "--conversation", conversation_id, "--database-url", copy_url)[0] == 0

    value, kind = COLUMN_TAMPERING[column]
    as_migrator(
        copy_url,
        f"UPDATE agent_interactions SET {column} = {value} "
        "WHERE conversation_id = %(c)s AND chain_seq = 2",
        {"c": conversation_id},
    )
    code, out = run_ops("verify", "--conversation", conversation_id, "--database-url", copy_url)

    assert code == 1, f"{column} changed and verify did not notice: {out}"
    broken = [line for line in out.splitlines() if line.startswith("BROKEN")]
    assert f" {kind}:" in broken[0], out


def test_the_trigger_and_verify_hash_the_same_content_including_outcome_and_result(
    database_url, handlers, fresh_reference, conversation_id
):
    assert lookup(handlers["PolicyLookupFunction"], "POL-99999", headers_for(conversation_id))
    with psycopg.connect(database_url) as conn:
        (record,) = conn.execute(
            SELECT_SQL.format(where="WHERE conversation_id = %s"), (conversation_id,)
        ).fetchall()
        (in_database,) = conn.execute(
            "SELECT agent_interactions_canonical_v2(a) FROM agent_interactions a "
            "WHERE conversation_id = %s",
            (conversation_id,),
        ).fetchone()  # type: ignore[misc]
    _, seq, _, _, version, *rendered = record
    assert encode_fields(canonical_fields(version, seq, rendered)) == in_database
    outcome, result = (
        rendered[RENDERED_COLUMNS.index("outcome")],
        rendered[RENDERED_COLUMNS.index("result::text")],
    )
    assert (outcome, "POLICY_NOT_FOUND") == ("error", json.loads(result)["error"]["code"])
    assert f"{len(outcome)}:{outcome}" in in_database
    assert f"{len(result)}:{result}" in in_database


def test_verify_all_checks_every_chain_and_fails_on_any(
    database_url, copy_url, handlers, fresh_reference, run_ops
):
    intact, tampered = (f"conv-{uuid.uuid4().hex[:12]}" for _ in range(2))
    for conversation in (intact, tampered):
        _lookups(handlers, conversation, 2)
        copy_chain(database_url, copy_url, conversation)
    as_migrator(
        copy_url,
        "UPDATE agent_interactions SET customer_id = 'cust-9001' WHERE conversation_id = %s",
        (tampered,),
    )

    code, out = run_ops("verify", "--all", "--database-url", copy_url)

    assert code == 1
    broken = [line for line in out.splitlines() if line.startswith("BROKEN")]
    assert any(f"conversation:{tampered}:" in line for line in broken)
    assert not any(f"conversation:{intact}:" in line for line in broken)
    assert out.splitlines()[-1].startswith("FAILED")


def test_the_whole_trail_of_this_test_session_verifies(database_url, run_ops):
    code, out = run_ops("verify", "--all", "--database-url", database_url)
    assert code == 0, out


def test_verify_of_a_conversation_without_rows_fails(database_url, run_ops):
    code, out = run_ops(
        "verify", "--conversation", "conv-never-seen", "--database-url", database_url
    )
    assert code == 1
    assert "NOT FOUND" in out


def test_canonical_encoding_is_unambiguous():
    assert encode_fields(["ab", "c"]) != encode_fields(["a", "bc"])
    assert encode_fields([None]) != encode_fields([""])
    assert encode_fields(["1:a"]) != encode_fields(["1", "a"])


# -- the migration chains what was written before it -------------------------------------------


def test_the_migration_links_rows_written_before_it(pg_server, run_ops):
    with scratch_database(pg_server.url, f"ia_legacy_{uuid.uuid4().hex[:8]}") as url:
        backend = get_backend(migrate.yoyo_url(url))
        migrations = read_migrations(str(migrate.SOURCES["app"]))
        before = migrations.filter(lambda m: m.id in ("0001_agent_interactions", "0002_app_role"))
        with backend.lock():
            backend.apply_migrations(backend.to_apply(before))
        with psycopg.connect(url, autocommit=True) as conn:
            for conversation in ("conv-a", "conv-b", "conv-a", None):
                conn.execute(
                    "INSERT INTO agent_interactions (id, created_at, conversation_id, intent, "
                    "outcome, payload, request_id, function_name, channel) VALUES "
                    "(gen_random_uuid(), clock_timestamp(), %s, 'policy_lookup', 'ok', "
                    "'{\"n\": 1.0}', 'r', 'f', 'direct')",
                    (conversation,),
                )
        migrate.apply(url, only="app")
        assert "0003_audit_chain" in _applied(url)
        with psycopg.connect(url) as conn:
            positions = conn.execute(
                "SELECT conversation_id, chain_seq FROM agent_interactions ORDER BY created_at, id"
            ).fetchall()
        assert positions == [("conv-a", 1), ("conv-b", 1), ("conv-a", 2), (None, 1)]
        code, out = run_ops("verify", "--all", "--database-url", url)
        assert (code, out.splitlines()[-1]) == (0, "OK: 3 chain(s), 4 row(s) verified")


def test_a_checkpoint_catches_rows_cut_from_the_end_and_chains_deleted_whole(
    pg_server, database_url, handlers, fresh_reference, run_ops, tmp_path
):
    cut, deleted, grown = (f"conv-{uuid.uuid4().hex[:12]}" for _ in range(3))
    for conversation in (cut, deleted, grown):
        _lookups(handlers, conversation, 3)
    checkpoint = tmp_path / "heads.json"
    with scratch_database(pg_server.url, f"ia_ckpt_{uuid.uuid4().hex[:8]}") as url:
        migrate.apply(url, only="app")
        for conversation in (cut, deleted, grown):
            copy_chain(database_url, url, conversation)
        code, out = run_ops(
            "verify", "--all", "--checkpoint", str(checkpoint), "--database-url", url
        )
        assert code == 0, out
        saved = checkpoint.read_text()

        # Tail cuts and whole deletions leave every remaining link intact...
        as_migrator(
            url,
            "DELETE FROM agent_interactions WHERE chain_key = %s AND chain_seq = 3",
            (f"conversation:{cut}",),
        )
        as_migrator(url, "DELETE FROM agent_interactions WHERE conversation_id = %s", (deleted,))
        # ... while an honest append after the checkpoint is fine.
        _lookups(handlers, grown, 1)
        copy_chain(database_url, url, grown, from_position=4)
        assert run_ops("verify", "--all", "--database-url", url)[0] == 0  # no checkpoint: blind

        code, out = run_ops(
            "verify", "--all", "--checkpoint", str(checkpoint), "--database-url", url
        )

        assert code == 1
        broken = sorted(line for line in out.splitlines() if line.startswith("BROKEN"))
        assert broken == sorted(
            [
                f"BROKEN conversation:{cut}: at position 3 removed: the checkpoint's last row is "
                "gone; the chain now ends at position 2",
                f"BROKEN conversation:{deleted}: at position 3 removed: the whole chain is gone "
                "since the checkpoint",
            ]
        )
        # Heads advance chain by chain: the grown one moves on, the broken ones keep theirs
        # (the rows that were there), and the breaks are kept apart as known.
        kept = json.loads(checkpoint.read_text())
        before = json.loads(saved)["heads"]
        assert kept["heads"][f"conversation:{grown}"][0] == 4
        for conversation in (cut, deleted):
            key = f"conversation:{conversation}"
            assert kept["heads"][key] == before[key]
        assert sorted(b["chain_key"] for b in kept["breaks"]) == sorted(
            [f"conversation:{cut}", f"conversation:{deleted}"]
        )

        # The next run reports them as known, not as new, and passes.
        code, out = run_ops(
            "verify", "--all", "--checkpoint", str(checkpoint), "--database-url", url
        )
    assert code == 0, out
    assert not [line for line in out.splitlines() if line.startswith("BROKEN")]
    assert len([line for line in out.splitlines() if line.startswith("KNOWN BROKEN")]) == 2
    assert out.splitlines()[-2].endswith("2 known break(s)")


def test_after_one_break_later_cuts_and_deletions_are_still_reported(
    pg_server, database_url, handlers, fresh_reference, run_ops, tmp_path
):
    """One broken chain freezes nothing: other chains' heads advance, and a later tail cut --
    in another chain or in the broken one -- and a later deleted conversation are new breaks."""
    broken, later, doomed = (f"conv-{uuid.uuid4().hex[:12]}" for _ in range(3))
    for conversation in (broken, later, doomed):
        _lookups(handlers, conversation, 4)
    checkpoint = tmp_path / "heads.json"

    def verify_all() -> tuple[int, list[str]]:
        code, out = run_ops(
            "verify", "--all", "--checkpoint", str(checkpoint), "--database-url", url
        )
        return code, [line for line in out.splitlines() if line.startswith("BROKEN")]

    with scratch_database(pg_server.url, f"ia_ckpt2_{uuid.uuid4().hex[:8]}") as url:
        migrate.apply(url, only="app")
        for conversation in (broken, later, doomed):
            copy_chain(database_url, url, conversation)
        as_migrator(
            url,
            "UPDATE agent_interactions SET outcome = 'error', error_code = 'X' "
            "WHERE conversation_id = %s AND chain_seq = 2",
            (broken,),
        )
        code, new = verify_all()
        assert code == 1
        (first,) = new
        assert first.startswith(f"BROKEN conversation:{broken}: row ")
        assert " at position 2 changed:" in first
        assert verify_all() == (0, [])  # known now; the others' heads advanced meanwhile

        as_migrator(
            url,
            "DELETE FROM agent_interactions WHERE conversation_id = %s AND chain_seq = 4",
            (later,),
        )
        as_migrator(
            url,
            "DELETE FROM agent_interactions WHERE conversation_id = %s AND chain_seq = 4",
            (broken,),
        )
        as_migrator(url, "DELETE FROM agent_interactions WHERE conversation_id = %s", (doomed,))
        code, new = verify_all()

    assert code == 1
    assert sorted(new) == sorted(
        [
            f"BROKEN conversation:{later}: at position 4 removed: the checkpoint's last row is "
            "gone; the chain now ends at position 3",
            f"BROKEN conversation:{broken}: at position 4 removed: the checkpoint's last row is "
            "gone; the chain now ends at position 3",
            f"BROKEN conversation:{doomed}: at position 4 removed: the whole chain is gone "
            "since the checkpoint",
        ]
    )


def test_a_checkpoint_of_the_first_format_is_read_as_heads(tmp_path):
    path = tmp_path / "heads.json"
    path.write_text(json.dumps({"conversation:c": [3, "ab" * 32]}))
    loaded = load_checkpoint(path)
    assert (loaded.heads, loaded.breaks) == ({"conversation:c": (3, "ab" * 32)}, [])


def test_verify_on_a_database_without_the_chain_says_what_to_do(pg_server, run_ops):
    with scratch_database(pg_server.url, f"ia_nochain_{uuid.uuid4().hex[:8]}") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE agent_interactions (id uuid PRIMARY KEY)")
        code, out = run_ops("verify", "--all", "--database-url", url)
    assert code == 2
    assert "make migrate" in out


def test_migrations_run_as_a_deployer_that_is_not_a_superuser(pg_server, run_ops):
    """Like RDS's master user: CREATEROLE and CREATEDB, no superuser."""
    deployer = f"ia_deployer_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server.url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{deployer}" LOGIN CREATEROLE CREATEDB')
        # The project's roles are cluster-wide and already exist here (an earlier migration
        # made them); on RDS the deployer creates them and so holds their ADMIN option, which
        # PostgreSQL 16+ requires to grant them (the embedded server is 16, CREATEROLE alone
        # no longer suffices). Give the deployer what creating them would have given it.
        for (role,) in admin.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE 'insurance\\_agent\\_%'"
        ).fetchall():
            admin.execute(f'GRANT "{role}" TO "{deployer}" WITH ADMIN OPTION')
    as_deployer = with_login(pg_server.url, deployer)  # keeps the host or socket directory
    try:
        with psycopg.connect(with_database(as_deployer, "postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{deployer}"')
        url = with_database(as_deployer, deployer)
        migrate.apply(url, only="app")
        assert "0003_audit_chain" in _applied(url)
        with psycopg.connect(url, autocommit=True) as conn:
            for _ in range(2):
                conn.execute(
                    "INSERT INTO agent_interactions (id, created_at, conversation_id, intent, "
                    "outcome, payload, request_id, function_name, channel) VALUES "
                    "(gen_random_uuid(), now(), 'conv-d', 'policy_lookup', 'ok', '{}', 'r', 'f', "
                    "'direct')"
                )
        assert run_ops("verify", "--conversation", "conv-d", "--database-url", url)[0] == 0
    finally:
        with psycopg.connect(pg_server.url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{deployer}" WITH (FORCE)')
            admin.execute(f'DROP ROLE IF EXISTS "{deployer}"')
