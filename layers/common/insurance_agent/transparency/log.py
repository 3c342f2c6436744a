"""The transparency log kept in PostgreSQL: the sealer appends audit rows as leaves and signs
checkpoints; ``prove`` builds the bundles an outsider verifies (``bundle``).

Leaves (``transparency_leaves``, migration 0008) are every ``agent_interactions`` row in the
order the sealer first saw it: ``leaf_index`` is the fixed order, never the timestamps. Each
checkpoint row keeps the tree's frontier, so a seal reads only the new rows. Sealers take one
transaction-level advisory lock, so two of them never append the same size twice; the primary
keys turn any that got around it into an error, never a fork.

Which rows are new: those not yet leaves whose ``created_at`` is at most ``lookback`` older
than the newest row already sealed. A row's ``created_at`` is taken when its transaction
starts and it becomes visible at commit, so ``lookback`` must exceed the longest writing
transaction (a function's timeout); ``full=True`` scans every row instead (after a restore).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from insurance_agent.transparency import merkle
from insurance_agent.transparency.bundle import b64, leaf_data, make_bundle
from insurance_agent.transparency.note import Checkpoint, sign
from insurance_agent.transparency.signer import Signer

# pg_advisory_xact_lock(key1, key2): 'AUDI' as elsewhere in the schema, then 'SEAL'.
SEAL_LOCK = (1096107081, 1397047628)
DEFAULT_LOOKBACK = timedelta(minutes=15)
DEFAULT_BATCH = 20_000


class NotSealed(LookupError):
    """The row exists but no checkpoint covers it yet."""


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root_hash: bytes
    note: str
    frontier: merkle.Frontier
    sealed_through: datetime | None


@dataclass(frozen=True)
class SealResult:
    checkpoint: StoredCheckpoint | None
    appended: int

    @property
    def wrote_checkpoint(self) -> bool:
        return self.appended > 0


def latest_checkpoint(conn: psycopg.Connection[Any]) -> StoredCheckpoint | None:
    row = conn.execute(
        "SELECT tree_size, root_hash, note, frontier, sealed_through"
        " FROM transparency_checkpoints ORDER BY tree_size DESC LIMIT 1"
    ).fetchone()
    return _stored(row) if row is not None else None


def checkpoint_at(conn: psycopg.Connection[Any], size: int) -> StoredCheckpoint | None:
    row = conn.execute(
        "SELECT tree_size, root_hash, note, frontier, sealed_through"
        " FROM transparency_checkpoints WHERE tree_size = %s",
        (size,),
    ).fetchone()
    return _stored(row) if row is not None else None


def _stored(row: Any) -> StoredCheckpoint:
    size, root_hash, note, frontier, sealed_through = row
    edge = merkle.Frontier(size, [bytes(h) for h in frontier])
    edge.check()
    if edge.root() != bytes(root_hash):
        raise ValueError(f"checkpoint {size}: its frontier does not lead to its root")
    return StoredCheckpoint(size, bytes(root_hash), note, edge, sealed_through)


def seal(
    conn: psycopg.Connection[Any],
    signer: Signer,
    *,
    lookback: timedelta = DEFAULT_LOOKBACK,
    batch: int = DEFAULT_BATCH,
    full: bool = False,
) -> SealResult:
    """Append every new audit row and sign a checkpoint over the tree (none if nothing new)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", SEAL_LOCK)
        last = latest_checkpoint(conn)
        frontier = (
            merkle.Frontier(last.size, list(last.frontier.nodes)) if last else merkle.Frontier()
        )
        through = last.sealed_through if last else None
        since = None if full or through is None else through - lookback
        appended = 0
        while True:
            rows = conn.execute(
                "SELECT a.id, a.row_hash, a.created_at FROM agent_interactions a"
                " WHERE NOT EXISTS (SELECT FROM transparency_leaves l WHERE l.row_id = a.id)"
                + ("" if since is None else " AND a.created_at >= %(since)s")
                + " ORDER BY a.created_at, a.id LIMIT %(batch)s",
                {"since": since, "batch": batch},
            ).fetchall()
            if not rows:
                break
            with conn.cursor().copy(
                "COPY transparency_leaves (leaf_index, row_id, leaf_hash) FROM STDIN"
            ) as copy:
                for row_id, row_hash, created_at in rows:
                    hashed = merkle.leaf_hash(leaf_data(row_hash))
                    copy.write_row((frontier.size, row_id, hashed))
                    frontier.append(hashed)
                    through = created_at if through is None else max(through, created_at)
            appended += len(rows)
            if len(rows) < batch:
                break
        if appended == 0 and last is not None:
            return SealResult(last, 0)
        checkpoint = Checkpoint(signer.name, frontier.size, frontier.root())
        note = sign(checkpoint.body(), signer)
        conn.execute(
            "INSERT INTO transparency_checkpoints"
            " (tree_size, root_hash, note, frontier, sealed_through)"
            " VALUES (%s, %s, %s, %s, %s)",
            (frontier.size, checkpoint.root_hash, note, frontier.nodes, through),
        )
        stored = StoredCheckpoint(frontier.size, checkpoint.root_hash, note, frontier, through)
    return SealResult(stored, appended)


def leaf_hashes(conn: psycopg.Connection[Any], size: int) -> list[bytes]:
    rows = conn.execute(
        "SELECT leaf_hash FROM transparency_leaves WHERE leaf_index < %s ORDER BY leaf_index",
        (size,),
    ).fetchall()
    return [bytes(r[0]) for r in rows]


def prove(
    conn: psycopg.Connection[Any],
    *,
    row_id: UUID | None = None,
    consistency_from: int | None = None,
    tree_size: int | None = None,
) -> dict[str, Any]:
    """A proof bundle against the latest checkpoint (or the one of ``tree_size``): the row's
    entry, and a consistency proof from ``consistency_from``. It holds what the database holds,
    unchecked: judging it is the offline verifier's job."""
    with conn.transaction():
        checkpoint = (
            latest_checkpoint(conn) if tree_size is None else checkpoint_at(conn, tree_size)
        )
        if checkpoint is None:
            raise NotSealed(
                "no checkpoint yet: run `python -m ops seal`"
                if tree_size is None
                else f"no checkpoint of tree size {tree_size}"
            )
        leaves = leaf_hashes(conn, checkpoint.size)
        entry = None
        if row_id is not None:
            entry = _entry(conn, row_id, leaves, checkpoint.size)
        consistency = None
        if consistency_from is not None:
            if not 0 <= consistency_from <= checkpoint.size:
                raise ValueError(f"no tree of {consistency_from} inside one of {checkpoint.size}")
            proof = merkle.consistency_proof(leaves, consistency_from)
            consistency = {"old_size": consistency_from, "proof": [b64(h) for h in proof]}
    return make_bundle(checkpoint.note, entry=entry, consistency=consistency)


def _entry(
    conn: psycopg.Connection[Any], row_id: UUID, leaves: list[bytes], size: int
) -> dict[str, Any]:
    row = conn.execute(
        "SELECT convert_to(a.prev_hash || CASE a.hash_version"
        " WHEN 1 THEN agent_interactions_canonical(a) ELSE agent_interactions_canonical_v2(a)"
        " END, 'UTF8'), a.row_hash,"
        " l.leaf_index"
        " FROM agent_interactions a LEFT JOIN transparency_leaves l ON l.row_id = a.id"
        " WHERE a.id = %s",
        (row_id,),
    ).fetchone()
    if row is None:
        raise LookupError(f"no audit row {row_id}")
    canonical, row_hash, leaf_index = bytes(row[0]), row[1], row[2]
    if leaf_index is None or leaf_index >= size:
        raise NotSealed(f"row {row_id} is not sealed yet: run `python -m ops seal`")
    return {
        "row_id": str(row_id),
        "leaf_index": leaf_index,
        "row_hash": row_hash,
        "canonical": b64(canonical),
        "inclusion_proof": [b64(h) for h in merkle.inclusion_proof(leaves, leaf_index)],
    }
