"""The audit trail partitioned by day (migration 0012): what held on one table holds across
partitions (chains, positions, triggers, grants, the intent reference), rows of a day without a
partition still land, and retention exports the oldest day with proofs an outsider checks
offline, then detaches it while its chains go on."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from insurance_agent import partitions
from insurance_agent.transparency.signer import LocalEd25519Signer, verifier_key

from ops import verify
from tests.transparency.conftest import Writer
from tests.trust.conftest import Runner, as_migrator

OLD = datetime.now(UTC).date() - timedelta(days=5)


def uuid7_at(day: date, ms_into_day: int = 0) -> UUID:
    """A UUIDv7 as a writer on ``day`` would make it (its first 48 bits: the millisecond)."""
    ms = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    ms += ms_into_day
    rand = secrets.randbits(74)
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & (2**62 - 1))
    return UUID(int=value)


def write_on(
    url: str,
    day: date,
    conversation: str | None,
    customer: str = "cust-7788",
    *,
    n: int = 1,
    outcome: str = "ok",
    intent_id: UUID | None = None,
) -> list[UUID]:
    """Rows with ids of ``day``, through the trigger as the functions' writes go."""
    ids = [uuid7_at(day, 1000 * i + 1) for i in range(n)]
    with psycopg.connect(url) as conn:
        for row_id in ids:
            conn.execute(
                "INSERT INTO agent_interactions (id, created_at, conversation_id, customer_id,"
                " intent, outcome, error_code, payload, request_id, function_name, channel,"
                " intent_id) VALUES (%s, now(), %s, %s, 'claim_create', %s, NULL, '{}', 'r',"
                " 'ClaimCreateFunction', 'direct', %s)",
                (row_id, conversation, customer, outcome, intent_id),
            )
    return ids


def add_day(url: str, day: date) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("SELECT agent_interactions_add_partition(%s)", (day,))


def part_of(url: str, row_id: UUID) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT tableoid::regclass::text FROM agent_interactions WHERE id = %s", (row_id,)
        ).fetchone()
    assert row is not None
    return str(row[0])


def chain(url: str, conversation: str) -> list[tuple[int, str, str]]:
    with psycopg.connect(url) as conn:
        return [
            (int(seq), prev, digest)
            for seq, prev, digest in conn.execute(
                "SELECT chain_seq, prev_hash, row_hash FROM agent_interactions"
                " WHERE chain_key = %s ORDER BY chain_seq",
                (f"conversation:{conversation}",),
            )
        ]


def test_the_trail_is_partitioned_by_day_and_writes_land_in_todays(log_db, write_rows):
    (row_id,) = write_rows(1)
    today = datetime.now(UTC).strftime("%Y%m%d")
    assert part_of(log_db, row_id) == f"agent_interactions_p{today}"
    with psycopg.connect(log_db) as conn:
        kind = conn.execute(
            "SELECT relkind FROM pg_class WHERE oid = 'agent_interactions'::regclass"
        ).fetchone()
        assert kind == ("p",)
        names = [p.name for p in partitions.attached(conn)]
        # Every partition: its own chain position index and TRUNCATE trigger, the parent's
        # row triggers; the functions' role reaches rows only through the parent.
        for name in names:
            indexes = {
                r[0]
                for r in conn.execute(
                    "SELECT indexdef FROM pg_indexes WHERE tablename = %s", (name,)
                )
            }
            assert any("UNIQUE" in d and "(chain_key, chain_seq)" in d for d in indexes), name
            triggers = {
                r[0]
                for r in conn.execute(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass", (name,)
                )
            }
            assert {
                "agent_interactions_chain",
                "agent_interactions_no_update_delete",
                "agent_interactions_no_truncate",
                "agent_interactions_decision_evidence",
            } <= triggers, name
            direct = conn.execute(
                "SELECT has_table_privilege('insurance_agent_app', %s, 'SELECT')", (name,)
            ).fetchone()
            assert direct == (False,), name
        # Housekeeping runs as the functions' role: it may make partitions and count the
        # default's rows through these two functions, and nothing more.
        for function in (
            "agent_interactions_ensure_partitions(integer)",
            "agent_interactions_rows_in_default()",
        ):
            may = conn.execute(
                "SELECT has_function_privilege('insurance_agent_app', %s, 'EXECUTE')",
                (function,),
            ).fetchone()
            assert may == (True,), function
    assert f"agent_interactions_p{today}" in names
    assert "agent_interactions_default" in names


def test_a_partition_made_later_is_append_only_like_the_rest(log_db):
    with psycopg.connect(log_db, autocommit=True) as conn:
        made = partitions.ensure(conn, 10)
        assert made >= 1
        assert partitions.ensure(conn, 10) == 0
    day = datetime.now(UTC).date() + timedelta(days=10)
    name = f"agent_interactions_p{day:%Y%m%d}"
    (row_id,) = write_on(log_db, day, "conv-future")
    assert part_of(log_db, row_id) == name
    # The table's owner, by the partition's own name: refused all the same.
    for statement in (
        f"UPDATE {name} SET outcome = 'error'",
        f"DELETE FROM {name}",
        f"TRUNCATE {name}",
    ):
        with psycopg.connect(log_db) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def copy_as_migrator(url: str, source: UUID, new_id: UUID) -> None:
    """The migration role restoring a copy of a row verbatim (chain fields and all)."""
    as_migrator(
        url,
        "INSERT INTO agent_interactions SELECT (%s)::uuid, created_at, conversation_id,"
        " customer_id, intent, outcome, error_code, payload, result, request_id,"
        " function_name, channel, principal, idempotency_key, duration_ms, intent_id,"
        " chain_key, chain_seq, prev_hash, row_hash, hash_version FROM agent_interactions"
        " WHERE id = %s",
        (new_id, source),
    )


def test_a_chain_continues_across_days_and_positions_stay_unique(log_db, write_rows):
    add_day(log_db, OLD)
    old = write_on(log_db, OLD, "conv-span", n=2)
    new = write_rows(2, conversation_id="conv-span")
    assert part_of(log_db, old[0]) != part_of(log_db, new[0])
    rows = chain(log_db, "conv-span")
    assert [seq for seq, _, _ in rows] == [1, 2, 3, 4]
    assert all(rows[i][1] == rows[i - 1][2] for i in range(1, 4))
    assert verify.verify(log_db, conversation_id="conv-span").ok
    # A second row at a taken position, inside one day: the partition's unique index.
    with pytest.raises(psycopg.errors.UniqueViolation):
        copy_as_migrator(log_db, old[1], uuid7_at(OLD, 50_000))
    # ... and across days, `ops verify` sees the chain forked.
    copy_as_migrator(log_db, old[1], uuid7_at(datetime.now(UTC).date(), 9))
    assert not verify.verify(log_db, conversation_id="conv-span").ok


def test_a_result_must_name_an_existing_intent(log_db):
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="names no audit row"):
        write_on(log_db, datetime.now(UTC).date(), "conv-orphan", intent_id=uuid7_at(OLD))
    (intent,) = write_on(log_db, datetime.now(UTC).date(), "conv-orphan", outcome="pending")
    write_on(log_db, datetime.now(UTC).date(), "conv-orphan", intent_id=intent)


def test_a_row_of_a_day_without_partition_lands_in_the_default_and_is_reported(log_db):
    far = datetime.now(UTC).date() + timedelta(days=400)
    (row_id,) = write_on(log_db, far, "conv-far")
    assert part_of(log_db, row_id) == "agent_interactions_default"
    with psycopg.connect(log_db, autocommit=True) as conn:
        assert partitions.in_default(conn) == 1
        # That day's partition is not made over rows the default holds: they stay readable.
        conn.execute("SELECT agent_interactions_add_partition(%s)", (far,))
        assert part_of(log_db, row_id) == "agent_interactions_default"


# -- retention ------------------------------------------------------------------------------


@pytest.fixture
def retirable(
    log_db: str, write_rows: Writer, signer: LocalEd25519Signer, tmp_path: Path
) -> dict[str, Any]:
    """An old day holding a conversation that goes on today and one that ended that day,
    sealed under this test's key."""
    from insurance_agent.transparency import log

    add_day(log_db, OLD)
    spans = write_on(log_db, OLD, "conv-spans", n=3)
    ended = write_on(log_db, OLD, "conv-ended", n=2)
    today = write_rows(2, conversation_id="conv-spans")
    with psycopg.connect(log_db, autocommit=True) as conn:
        log.seal(conn, signer)
    key = tmp_path / "verifier.key"
    key.write_text(str(verifier_key(signer)))
    return {
        "url": log_db,
        "spans": spans,
        "ended": ended,
        "today": today,
        "key": key,
        "partition": f"agent_interactions_p{OLD:%Y%m%d}",
        "dir": tmp_path / "exports",
    }


def _retire(run_ops: Runner, r: dict[str, Any], *extra: str) -> tuple[int, str]:
    return run_ops(
        "retire",
        "--database-url",
        r["url"],
        "--export-dir",
        str(r["dir"]),
        "--public-key",
        str(r["key"]),
        *extra,
    )


def test_retiring_the_oldest_day_exports_proofs_an_outsider_verifies(retirable, run_ops):
    r = retirable
    code, out = _retire(run_ops, r, "--partition", r["partition"])
    assert code == 0, out
    assert f"retired {r['partition']}: 5 row(s)" in out
    exported = r["dir"] / f"{r['partition']}.jsonl"
    code, out = run_ops("verify-export", str(exported), "--public-key", str(r["key"]))
    assert code == 0, out
    assert "OK: 5 row(s)" in out
    assert "chains: 2, each whole; 0 continue" in out
    with psycopg.connect(r["url"]) as conn:
        names = [p.name for p in partitions.attached(conn)]
        left = conn.execute(
            "SELECT count(*) FROM agent_interactions WHERE id = ANY(%s)",
            (r["spans"] + r["ended"],),
        ).fetchone()
        # The detached table is kept, append-only on its own.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"DELETE FROM {r['partition']}")
    assert r["partition"] not in names
    assert left == (0,)
    # The live trail still verifies: the spanning chain starts from its retired tail.
    assert verify.verify(r["url"]).ok
    # Both chains go on where they stopped, and stay their customer's.
    today = datetime.now(UTC).date()
    write_on(r["url"], today, "conv-ended")
    write_on(r["url"], today, "conv-spans")
    ended, spans = chain(r["url"], "conv-ended"), chain(r["url"], "conv-spans")
    assert ended[0][0] == 3
    assert spans[-1][0] == 6
    assert verify.verify(r["url"]).ok
    with pytest.raises(psycopg.Error) as refused:
        write_on(r["url"], today, "conv-ended", customer="cust-0001")
    assert refused.value.sqlstate == "IA403"


def test_retire_refuses_what_would_lose_evidence(retirable, run_ops, log_db):
    r = retirable
    young = f"agent_interactions_p{datetime.now(UTC):%Y%m%d}"
    code, _ = _retire(run_ops, r, "--partition", young)
    assert code == 1  # not the oldest day
    code, _ = _retire(run_ops, r, "--min-age-days", "30")
    assert code == 1  # not old enough
    # A claim intent of that day still without its result.
    write_on(log_db, OLD, "conv-pending", outcome="pending")
    code, _ = _retire(run_ops, r)
    assert code == 1
    with psycopg.connect(log_db) as conn:
        assert r["partition"] in [p.name for p in partitions.attached(conn)]
    assert not list(r["dir"].glob("*.jsonl"))


def test_retire_refuses_an_unsealed_day(log_db, write_rows, run_ops, signer, tmp_path):
    add_day(log_db, OLD)
    write_on(log_db, OLD, "conv-unsealed")
    key = tmp_path / "k"
    key.write_text(str(verifier_key(signer)))
    code, _ = run_ops(
        "retire", "--database-url", log_db, "--export-dir", str(tmp_path), "--public-key", str(key)
    )
    assert code == 1
    with psycopg.connect(log_db) as conn:
        assert f"agent_interactions_p{OLD:%Y%m%d}" in [p.name for p in partitions.attached(conn)]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path: Path, lines: list[dict[str, Any]]) -> Path:
    out = path.with_name("tampered.jsonl")
    out.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return out


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        ("edit", "edited"),
        ("remove-middle", "missing"),
        ("truncate", "cut short"),
        ("swap-positions", "inclusion proof"),
        ("other-key", "signature"),
        ("other-day", "not of"),
    ],
)
def test_a_tampered_export_fails_offline(retirable, run_ops, tamper, expected, signer):
    import base64

    r = retirable
    assert _retire(run_ops, r)[0] == 0
    exported = r["dir"] / f"{r['partition']}.jsonl"
    lines = _lines(exported)
    header, entries = lines[0], lines[1:]
    spans = [e for e in entries if e["row_id"] in {str(i) for i in r["spans"]}]
    if tamper == "edit":
        text = base64.b64decode(spans[0]["canonical"]).replace(b"ClaimCreate", b"ClaimCreatf")
        spans[0]["canonical"] = base64.b64encode(text).decode()
    elif tamper == "remove-middle":
        entries.remove(spans[1])
        header["rows"] -= 1
    elif tamper == "truncate":
        entries.pop()
    elif tamper == "swap-positions":
        spans[0]["leaf_index"], spans[1]["leaf_index"] = (
            spans[1]["leaf_index"],
            spans[0]["leaf_index"],
        )
    elif tamper == "other-key":
        from insurance_agent.transparency import note
        from insurance_agent.transparency.log import latest_checkpoint

        other = LocalEd25519Signer.generate(signer.name)
        with psycopg.connect(r["url"]) as conn:
            cp = latest_checkpoint(conn)
        assert cp is not None
        header["checkpoint"] = note.sign(cp.note.split("\n\n")[0] + "\n", other)
    elif tamper == "other-day":
        header["from_id"] = str(uuid7_at(OLD + timedelta(days=1)))
    code, out = run_ops(
        "verify-export", str(_write(exported, [header, *entries])), "--public-key", str(r["key"])
    )
    assert code == 1, out
    assert expected in out


def test_exports_of_consecutive_days_link_chains_across_them(
    log_db, write_rows, signer, run_ops, tmp_path
):
    from insurance_agent.transparency import log

    first, second = OLD, OLD + timedelta(days=1)
    for day in (first, second):
        add_day(log_db, day)
    write_on(log_db, first, "conv-two-days", n=2)
    write_on(log_db, second, "conv-two-days", n=2)
    with psycopg.connect(log_db, autocommit=True) as conn:
        log.seal(conn, signer)
    key = tmp_path / "k"
    key.write_text(str(verifier_key(signer)))
    for _ in range(2):
        code, out = run_ops(
            "retire",
            "--database-url",
            log_db,
            "--export-dir",
            str(tmp_path / "x"),
            "--public-key",
            str(key),
            "--drop",
        )
        assert code == 0, out
    files = sorted((tmp_path / "x").glob("*.jsonl"))
    assert len(files) == 2
    code, out = run_ops("verify-export", str(files[1]), "--public-key", str(key))
    assert code == 0
    assert "1 continue" in out
    code, out = run_ops("verify-export", *map(str, files), "--public-key", str(key))
    assert code == 0, out
    assert "0 continue" in out  # together, the chain is whole from row 1
    with psycopg.connect(log_db) as conn:
        gone = conn.execute(
            "SELECT to_regclass(%s)", (f"agent_interactions_p{first:%Y%m%d}",)
        ).fetchone()
    assert gone == (None,)


def test_the_partitioning_migration_keeps_every_row_back_and_forth(log_db, write_rows):
    """0012 copies the trail verbatim into the partitioned table, and its rollback back: hashes,
    positions and times unchanged both ways, the chains verifying throughout."""
    from yoyo import get_backend, read_migrations

    from devstack import migrate

    add_day(log_db, OLD)
    old = write_on(log_db, OLD, "conv-migrated", n=2)
    write_rows(2, conversation_id="conv-migrated")
    before = chain(log_db, "conv-migrated")
    backend = get_backend(migrate.yoyo_url(log_db))
    partitioning = read_migrations(str(migrate.SOURCES["app"])).filter(
        lambda m: m.id == "0012_partitioning"
    )
    with backend.lock():
        backend.rollback_migrations(partitioning)
    with psycopg.connect(log_db) as conn:
        kind = conn.execute(
            "SELECT relkind FROM pg_class WHERE oid = 'agent_interactions'::regclass"
        ).fetchone()
    assert kind == ("r",)
    assert chain(log_db, "conv-migrated") == before
    assert verify.verify(log_db).ok
    write_rows(1, conversation_id="conv-migrated")  # the single table's trigger links it
    assert migrate.apply(log_db, only="app") == 1
    after = chain(log_db, "conv-migrated")
    assert after[:4] == before
    assert [seq for seq, _, _ in after] == [1, 2, 3, 4, 5]
    assert part_of(log_db, old[0]) == f"agent_interactions_p{OLD:%Y%m%d}"
    assert verify.verify(log_db).ok


def test_the_offline_verifiers_need_no_database_driver():
    """What an auditor runs imports neither psycopg nor boto3."""
    import subprocess
    import sys

    probe = (
        "import sys; import insurance_agent.transparency.export, "
        "insurance_agent.transparency.bundle; "
        "print(sorted(m for m in ('psycopg', 'boto3', 'botocore') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "[]"
