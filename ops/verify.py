"""Verify the audit trail's hash chains: report the first row changed, removed or reordered.

The database links each row into its chain (migration 0003); this module re-derives every hash
from the stored columns on its own, so a wrong trigger or a rewritten row both show up here.
Canonical content (version 1) is each column rendered as text by ``RENDERED_COLUMNS`` (forms
that do not depend on session settings) and length-prefixed by ``encode_fields``; a row's hash
is sha256 over its ``prev_hash`` followed by that content.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import psycopg

GENESIS = "0" * 64
CONVERSATION_CHAIN = "conversation:"

# The same columns, in the same order and renderings, as agent_interactions_canonical().
RENDERED_COLUMNS = (
    "id::text",
    """to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
    "chain_key",
    "conversation_id",
    "customer_id",
    "intent",
    "outcome",
    "error_code",
    "payload::text",
    "result::text",
    "request_id",
    "function_name",
    "channel",
    "principal",
    "idempotency_key",
    "duration_ms::text",
    "intent_id::text",
)
SELECT_SQL = (
    "SELECT chain_key, chain_seq, prev_hash, row_hash, "
    + ", ".join(RENDERED_COLUMNS)
    + " FROM agent_interactions {where} ORDER BY chain_key, chain_seq, id"
)

Kind = Literal["changed", "removed", "reordered"]


def encode_fields(fields: Iterable[str | None]) -> str:
    return "".join("~" if f is None else f"{len(f)}:{f}" for f in fields)


def row_hash(prev_hash: str, fields: Sequence[str | None]) -> str:
    return hashlib.sha256((prev_hash + encode_fields(fields)).encode()).hexdigest()


@dataclass(frozen=True)
class ChainRow:
    chain_key: str
    chain_seq: int
    prev_hash: str
    row_hash: str
    fields: tuple[str | None, ...]  # the RENDERED_COLUMNS values; fields[0] is the row id

    @property
    def row_id(self) -> str:
        return str(self.fields[0])


@dataclass(frozen=True)
class Break:
    chain_key: str
    kind: Kind
    position: int
    detail: str
    row_id: str | None = None  # None when the row itself is gone

    @classmethod
    def at(cls, row: ChainRow, kind: Kind, detail: str) -> Break:
        return cls(row.chain_key, kind, row.chain_seq, detail, row.row_id)

    def describe(self) -> str:
        row = f"row {self.row_id} " if self.row_id else ""
        return (
            f"BROKEN {self.chain_key}: {row}at position {self.position} {self.kind}: {self.detail}"
        )


# A chain's last row as a checkpoint saw it: (position, row_hash).
Head = tuple[int, str]


@dataclass
class Report:
    chains: int = 0
    rows: int = 0
    breaks: list[Break] = field(default_factory=list)
    heads: dict[str, Head] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.breaks


def first_break(rows: Sequence[ChainRow]) -> Break | None:
    """Walk one chain in position order; the first row whose content or link is wrong."""
    position = {r.row_hash: i for i, r in enumerate(rows)}
    expected_prev = GENESIS
    for i, row in enumerate(rows):
        if row_hash(row.prev_hash, row.fields) != row.row_hash:
            return Break.at(row, "changed", "its content no longer matches its hash")
        if row.prev_hash != expected_prev:
            before = position.get(row.prev_hash)
            if before is not None and before != i - 1:
                return Break.at(
                    row,
                    "reordered",
                    f"it was written after the row now at position {rows[before].chain_seq}",
                )
            return Break.at(
                row,
                "removed",
                "the row written before it is missing (deleted, or rewritten with a new hash)",
            )
        expected_prev = row.row_hash
    return None


def _chains(records: Iterable[tuple[Any, ...]]) -> Iterator[list[ChainRow]]:
    chain: list[ChainRow] = []
    for key, seq, prev, digest, *fields in records:
        row = ChainRow(key, int(seq), prev, digest, tuple(fields))
        if chain and chain[-1].chain_key != key:
            yield chain
            chain = []
        chain.append(row)
    if chain:
        yield chain


def cut_since(chain: Sequence[ChainRow], head: Head) -> Break | None:
    """The row a checkpoint saw last in this chain is gone: rows were cut from its end."""
    position, digest = head
    if any(r.chain_seq == position and r.row_hash == digest for r in chain):
        return None
    return Break(
        chain[-1].chain_key,
        "removed",
        position,
        f"the checkpoint's last row is gone; the chain now ends at position {chain[-1].chain_seq}",
    )


def verify(
    database_url: str,
    *,
    conversation_id: str | None = None,
    checkpoint: dict[str, Head] | None = None,
) -> Report:
    """Verify one conversation's chain, or every chain when ``conversation_id`` is None.

    With ``checkpoint`` (the ``heads`` of an earlier report, kept outside the database) rows
    removed from the end of a chain, or whole chains, since then are caught too."""
    where, params = "", tuple[str, ...]()
    if conversation_id is not None:
        where, params = "WHERE chain_key = %s", (CONVERSATION_CHAIN + conversation_id,)
    report = Report()
    # A server-side cursor streams a large table in one snapshot, chain after chain.
    with (
        psycopg.connect(database_url, prepare_threshold=None) as conn,
        conn.cursor(name="audit_verify") as cursor,
    ):
        cursor.itersize = 2000
        cursor.execute(SELECT_SQL.format(where=where), params)
        for chain in _chains(cursor):
            key = chain[0].chain_key
            report.chains += 1
            report.rows += len(chain)
            report.heads[key] = (chain[-1].chain_seq, chain[-1].row_hash)
            broken = first_break(chain)
            if broken is None and checkpoint and key in checkpoint:
                broken = cut_since(chain, checkpoint[key])
            if broken is not None:
                report.breaks.append(broken)
    if checkpoint and conversation_id is None:
        for key in sorted(set(checkpoint) - set(report.heads)):
            gone = "the whole chain is gone since the checkpoint"
            report.breaks.append(Break(key, "removed", checkpoint[key][0], gone))
    return report


def load_checkpoint(path: Path) -> dict[str, Head]:
    if not path.exists():
        return {}
    return {
        key: (int(seq), str(digest)) for key, (seq, digest) in json.loads(path.read_text()).items()
    }


def save_checkpoint(path: Path, heads: dict[str, Head]) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({k: list(v) for k, v in sorted(heads.items())}, indent=1))
    partial.replace(path)


def as_lines(report: Report) -> list[str]:
    lines = [b.describe() for b in report.breaks]
    verdict = "OK" if report.ok else f"FAILED ({len(report.breaks)} broken)"
    lines.append(f"{verdict}: {report.chains} chain(s), {report.rows} row(s) verified")
    return lines
