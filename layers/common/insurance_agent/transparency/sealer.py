"""One run of the sealer: append new audit rows, sign a checkpoint, copy it to the archive.

The archive copy happens after the commit: a checkpoint that reached Object Lock storage but
whose leaves were rolled back would be a signed root the database can never reproduce (a fork
of our own making). Each run also copies the latest checkpoint if an earlier run committed it
but died before its copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg

from insurance_agent.transparency import log
from insurance_agent.transparency.archive import CheckpointArchive
from insurance_agent.transparency.signer import Signer


@dataclass(frozen=True)
class RunReport:
    appended: int
    tree_size: int
    root_hash: str
    archived: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "appended": self.appended,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "archived": self.archived,
        }


def run_once(
    conn: psycopg.Connection[Any],
    signer: Signer,
    *,
    archive: CheckpointArchive | None = None,
    lookback: timedelta = log.DEFAULT_LOOKBACK,
    full: bool = False,
) -> RunReport:
    result = log.seal(conn, signer, lookback=lookback, full=full)
    checkpoint = result.checkpoint
    assert checkpoint is not None  # seal writes the first checkpoint even over an empty trail
    archived = None
    if archive is not None and not archive.has(checkpoint.size):
        archived = archive.put(checkpoint.size, checkpoint.note)
    return RunReport(result.appended, checkpoint.size, checkpoint.root_hash.hex(), archived)
