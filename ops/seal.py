"""`python -m ops seal`: one sealer run (what the scheduled function does each minute)."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
from insurance_agent.transparency import config
from insurance_agent.transparency.archive import CheckpointArchive
from insurance_agent.transparency.sealer import RunReport, run_once
from insurance_agent.transparency.signer import verifier_key


def seal(url: str, *, full: bool = False, lookback_s: float | None = None) -> RunReport:
    signer = config.signer_from_environment()
    bucket = config.bucket()
    archive = CheckpointArchive(bucket) if bucket else None
    with psycopg.connect(url, autocommit=True) as conn:
        return run_once(
            conn,
            signer,
            archive=archive,
            full=full,
            **({"lookback": timedelta(seconds=lookback_s)} if lookback_s is not None else {}),
        )


def public_key() -> str:
    """The verifier key outsiders need: <name>+<key id>+<base64 key>."""
    return str(verifier_key(config.signer_from_environment()))


def as_text(report: RunReport) -> str:
    return json.dumps(report.as_dict())
