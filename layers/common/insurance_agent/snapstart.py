"""Lambda SnapStart: init does the first request's work when it is snapshotted, and a restored
container re-creates what must not be shared between the copies of one snapshot.

Without SnapStart the layer defers everything it can to the first event of each kind (a
container serving only Step Functions never imports FastAPI). With SnapStart
(``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`` while the snapshot's init runs) work done at init
is free at every restore, and work left to the first event is paid on every cold start: so
``prepare`` builds the doors, the FastAPI app, the validators and the container's services then.

Every restore of a snapshot starts from the same memory, so ``after_restore`` (registered with
the runtime's ``snapshot_restore_py``) gives each copy its own:

- a new database pool and HTTP client (no connection is opened at init, and none may be shared);
- cached secrets dropped (Powertools Parameters' cache: the upstream API key, the MCP caller
  key); the RDS IAM token is minted per connection, so a new pool mints a new one;
- ``random`` reseeded from the OS (the retry jitter), and the UUIDv7 generator's last timestamp
  forgotten (its random bits come from ``secrets``, i.e. the OS, already);
- a new asyncio event loop for Mangum.

``snapshot_restore_py`` is part of Lambda's Python runtime, so the layer does not carry it (a
copy in the layer would shadow the runtime's and its registry); locally it is a development
dependency, and ``bench/snapstart.py`` emulates snapshot and restore by forking an initialized
process and running the registered hooks in the child.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from insurance_agent.entry import FunctionEntry

SNAP_START = "snap-start"


# Imports stay inside the functions: a container without SnapStart imports nothing for it.


def snapshotting() -> bool:
    """Is this init the one Lambda snapshots?"""
    return os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == SNAP_START


def prepare(entry: FunctionEntry) -> bool:
    """When snapshotting: do the first request's work now and register the restore hook.
    Answers whether it did."""
    if not snapshotting():
        return False
    # In Lambda's runtime; a snapshot without its restore hook would share connections' state
    # and random state between copies, so its absence fails the init.
    import gc

    from snapshot_restore_py import register_after_restore  # type: ignore[import-untyped]

    warm_up(entry)
    register_after_restore(after_restore, entry)
    gc.collect()
    gc.freeze()
    return True


def warm_up(entry: FunctionEntry) -> None:
    """Imports, model and app builds, the container's services: everything the first event of
    any door would do short of I/O."""
    from insurance_agent.doors.http import HttpDoor
    from insurance_agent.upstream import _claims_adapter

    for kind in ("http", "direct", "mcp"):
        door = entry.door(kind)
        if isinstance(door, HttpDoor):
            door.prepare()
    _claims_adapter()
    if entry.operation.intent == "claim_create":
        import aws_lambda_powertools.utilities.idempotency  # noqa: F401

        import insurance_agent.idempotency_store  # noqa: F401
    if entry.runtime.settings.db_iam_auth:
        import boto3  # noqa: F401  -- the RDS IAM token is signed with it on every connect
    entry.runtime.services  # noqa: B018 -- built now: the pool and client, no connection yet


def after_restore(entry: FunctionEntry) -> None:
    """Runs in each restored copy before its first event."""
    import asyncio
    import random

    entry.runtime.close()
    parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters")
    if parameters is not None:
        parameters.clear_caches()
    random.seed()
    uuid6: Any = sys.modules.get("uuid6")
    if uuid6 is not None:
        uuid6._last_v7_timestamp = None
    old_loop = asyncio.get_event_loop_policy().get_event_loop()
    asyncio.set_event_loop(asyncio.new_event_loop())
    old_loop.close()
    entry.runtime.services  # noqa: B018 -- a new pool and client for this copy
