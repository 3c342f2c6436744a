"""Handlers of the scheduled functions (EventBridge schedules in template.yaml): the transparency
sealer, the reconciler of pending claim intents, and housekeeping (the idempotency purge and the
audit trail's next partitions).

Each runs a few statements a minute, so each opens one connection per invocation rather than
keeping a pool; the reconciler keeps its upstream client warm like the API functions do.
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import cache
from typing import Any

import psycopg

from insurance_agent.audit import PostgresAuditStore
from insurance_agent.database import Database, connection_params
from insurance_agent.housekeeping import purge_expired_idempotency
from insurance_agent.observability import logger
from insurance_agent.reconcile import DEFAULT_MIN_AGE, reconcile
from insurance_agent.settings import get_settings
from insurance_agent.upstream import InsuranceApiClient


def _connect() -> psycopg.Connection[Any]:
    conninfo, kwargs = connection_params(get_settings())
    return psycopg.connect(conninfo, **kwargs())


def seal_handler(event: Any, context: Any) -> dict[str, Any]:
    from insurance_agent.transparency import config
    from insurance_agent.transparency.archive import CheckpointArchive
    from insurance_agent.transparency.sealer import run_once

    bucket = config.bucket()
    archive = CheckpointArchive(bucket, region=get_settings().aws_region) if bucket else None
    with _connect() as conn:
        report = run_once(conn, config.signer_from_environment(), archive=archive).as_dict()
    logger.info("transparency log sealed", extra=report)
    return report


@cache
def _reconciler() -> tuple[Database, PostgresAuditStore, InsuranceApiClient]:
    from insurance_agent.api_key import api_key_provider

    settings = get_settings()
    client = InsuranceApiClient(
        str(settings.fastapi_insurance_base_url),
        api_key_provider(settings),
        connect_timeout_s=settings.upstream_connect_timeout_s,
        read_timeout_s=settings.upstream_read_timeout_s,
        retry_attempts=settings.upstream_retry_attempts,
        retry_budget_s=settings.upstream_retry_budget_s,
    )
    # Two connections: one holds an intent's lock while the audit store writes on the other.
    audit = PostgresAuditStore(Database(settings, name="reconciler-audit"))
    return Database(settings, name="reconciler"), audit, client


def min_age() -> timedelta:
    """RECONCILE_MIN_AGE_S: longer than the claim function's timeout (template: 10 s)."""
    value = os.environ.get("RECONCILE_MIN_AGE_S")
    return timedelta(seconds=float(value)) if value else DEFAULT_MIN_AGE


def reconcile_handler(event: Any, context: Any) -> dict[str, Any]:
    database, audit, client = _reconciler()
    report = reconcile(database, audit, client, min_age=min_age()).as_dict()
    logger.info("pending claim intents reconciled", extra=report)
    return report


def purge_handler(event: Any, context: Any) -> dict[str, Any]:
    from insurance_agent import partitions

    with _connect() as conn:
        conn.autocommit = True
        # Partitions first: a slow purge must not leave tomorrow without one.
        made = partitions.ensure(conn)
        unpartitioned = partitions.in_default(conn)
        purged = purge_expired_idempotency(conn)
    report = {"purged": purged, "partitions_created": made, "rows_in_default": unpartitioned}
    logger.info("housekeeping done", extra=report)
    if unpartitioned:
        logger.warning("audit rows in the default partition", extra=report)
    return report
