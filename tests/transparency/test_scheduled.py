"""The scheduled functions' handlers (functions/sealer, reconciler, housekeeping) and the timers
`make run` drives them with, on a real database."""

from __future__ import annotations

import importlib.util
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from insurance_agent.settings import get_settings

from devstack.schedules import Schedules

ROOT = Path(__file__).resolve().parents[2]


def _function(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(
        f"fn_{name}", ROOT / "functions" / name / "app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


@pytest.fixture
def scheduled_env(log_db, key_file, monkeypatch, reference):
    monkeypatch.setenv("DATABASE_URL", log_db)
    monkeypatch.setenv("DB_IAM_AUTH", "false")
    monkeypatch.setenv("FASTAPI_INSURANCE_BASE_URL", reference.url)
    monkeypatch.setenv("FASTAPI_INSURANCE_API_KEY", reference.api_key)
    get_settings.cache_clear()
    from insurance_agent import scheduled

    scheduled._reconciler.cache_clear()
    yield log_db
    get_settings.cache_clear()
    scheduled._reconciler.cache_clear()


def _expired_record(url: str) -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO idempotency_records (idempotency_key, status, expires_at, payload_hash,"
            " updated_at) VALUES (%s, 'COMPLETED', %s, 'h', %s)",
            (f"claim_create#expired-{time.time_ns()}", past, past),
        )


def test_the_scheduled_handlers_seal_reconcile_and_purge(scheduled_env, write_rows):
    write_rows(3)
    _expired_record(scheduled_env)
    sealed = _function("sealer")({"source": "aws.events"}, None)
    assert sealed["appended"] == 3
    assert sealed["tree_size"] == 3
    assert sealed["archived"] is None  # no bucket configured here
    assert _function("reconciler")({}, None) == {"settled": [], "skipped": []}
    housekeeping = _function("housekeeping")
    first = housekeeping({}, None)
    assert (first["purged"], first["rows_in_default"]) == (1, 0)
    # The next week's partitions exist after a run, so a second run makes none.
    assert housekeeping({}, None) == {"purged": 0, "partitions_created": 0, "rows_in_default": 0}
    week_ahead = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y%m%d")
    with psycopg.connect(scheduled_env) as conn:
        found = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f"agent_interactions_p{week_ahead}",)
        ).fetchone()
    assert found == (True,)


def test_make_runs_timers_seal_on_their_own(scheduled_env, write_rows):
    write_rows(2)
    schedules = Schedules(
        scheduled_env, seal_every_s=0.2, reconcile_every_s=0.2, purge_every_s=0.2
    ).start()
    try:
        deadline = time.monotonic() + 20
        size = 0
        while time.monotonic() < deadline and size < 2:
            time.sleep(0.2)
            with psycopg.connect(scheduled_env) as conn:
                row = conn.execute("SELECT max(tree_size) FROM transparency_checkpoints").fetchone()
            size = (row[0] if row else None) or 0
    finally:
        schedules.stop()
    assert size == 2
