"""SnapStart (insurance_agent/snapstart.py): a snapshotted init does the first event's work, a
restored copy gets its own pool, client, random state and event loop and answers; a plain init
stays lazy. Restores are emulated by forking an initialized process (bench/snapstart_child.py)."""

from __future__ import annotations

import os

import pytest
import snapshot_restore_py
from insurance_agent.catalog import OPERATIONS
from insurance_agent.entry import FunctionEntry
from insurance_agent.snapstart import after_restore, prepare

from bench.snapstart import _run


@pytest.fixture
def registry():
    """The runtime's hook registry, left as it was found."""
    hooks = snapshot_restore_py.get_after_restore()
    before = list(hooks)
    yield hooks
    hooks[:] = before


def test_a_plain_init_does_nothing_in_advance(function_env, registry, monkeypatch):
    monkeypatch.delenv("AWS_LAMBDA_INITIALIZATION_TYPE", raising=False)
    entry = FunctionEntry(OPERATIONS["policy_lookup"])

    assert prepare(entry) is False
    assert entry._doors == {}
    assert entry.runtime._services is None
    assert len(registry) == len(snapshot_restore_py.get_after_restore())


def test_a_snapshotted_init_builds_the_app_and_services_and_registers_the_hook(
    function_env, registry, monkeypatch
):
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    before = len(registry)
    entry = FunctionEntry(OPERATIONS["claim_summary"])
    try:
        assert prepare(entry) is True
        http = entry.door("http")
        assert http._app is not None  # type: ignore[attr-defined]
        services, client = entry.runtime._services, entry.runtime.client
        assert services is not None
        assert entry.runtime.database is not None
        assert entry.runtime.database._pool is None  # no connection before the snapshot
        (hook, args, _kwargs) = registry[before]
        assert hook is after_restore
        assert args == (entry,)

        hook(*args)

        assert entry.runtime._services is not services
        assert entry.runtime.client is not client
    finally:
        entry.runtime.close()


def test_restored_copies_answer_with_their_own_random_state(function_env, reference):
    env = dict(os.environ) | {"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"}

    snapshot, *restores = _run(env, "policy_lookup", 0, snaps=3)

    assert snapshot["hooks"] >= 1
    assert [r["status"] for r in restores] == [200, 200, 200]
    assert len({r["random"] for r in restores}) == 3
    assert len({r["uuid7"] for r in restores}) == 3
