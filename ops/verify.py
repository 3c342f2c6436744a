"""Verify the audit trail's hash chains: report every row changed, removed, reordered or filed in
the wrong chain.

The database links each row into its chain (migrations 0003, 0005); this module re-derives every
hash from the stored columns on its own, so a wrong trigger or a rewritten row both show up here.
docs/audit.md describes the canonical content; in short, each column is rendered as text by
``RENDERED_COLUMNS`` (forms that do not depend on session settings), ``canonical_fields`` puts
the version-2 prefix (the row's hash version and chain position) in front, ``encode_fields``
length-prefixes them, and a row's hash is sha256 over its ``prev_hash`` followed by that content.

Retention detaches a chain's oldest rows (``ops retire``, migration 0012); the chain's last
retired row stays in ``agent_interactions_retired_tails``, and the walk starts from it.

With a checkpoint file (``--checkpoint``) each chain's head is remembered on its own, and so are
the breaks already reported: a chain broken once stays broken in an append-only table, and that
must not stop the others' heads from advancing nor hide a later break (see ``Checkpoint``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import psycopg

GENESIS = "0" * 64
CONVERSATION_CHAIN = "conversation:"
UNATTRIBUTED_CHAIN = "unattributed:"

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
CONVERSATION_FIELD = RENDERED_COLUMNS.index("conversation_id")
SELECT_SQL = (
    "SELECT chain_key, chain_seq, prev_hash, row_hash, hash_version, "
    + ", ".join(RENDERED_COLUMNS)
    + " FROM agent_interactions {where} ORDER BY chain_key, chain_seq, id"
)

TAILS_SQL = "SELECT chain_key, chain_seq, row_hash FROM agent_interactions_retired_tails {where}"

Kind = Literal["changed", "removed", "reordered", "misfiled"]


def encode_fields(fields: Iterable[str | None]) -> str:
    return "".join("~" if f is None else f"{len(f)}:{f}" for f in fields)


def canonical_fields(
    version: int, chain_seq: int, rendered: Sequence[str | None]
) -> tuple[str | None, ...]:
    """The fields a row's hash covers: version 1 (migration 0003) the rendered columns; version
    2 (migration 0005) its version and chain position first (agent_interactions_canonical_v2)."""
    if version == 1:
        return tuple(rendered)
    if version == 2:
        return (str(version), str(chain_seq), *rendered)
    raise ValueError(f"unknown hash version {version}")


def row_hash(prev_hash: str, fields: Sequence[str | None]) -> str:
    return hashlib.sha256((prev_hash + encode_fields(fields)).encode()).hexdigest()


@dataclass(frozen=True)
class ChainRow:
    chain_key: str
    chain_seq: int
    prev_hash: str
    row_hash: str
    version: int
    fields: tuple[str | None, ...]  # the RENDERED_COLUMNS values; fields[0] is the row id

    @property
    def row_id(self) -> str:
        return str(self.fields[0])

    @property
    def conversation_id(self) -> str | None:
        return self.fields[CONVERSATION_FIELD]

    def computed_hash(self) -> str:
        return row_hash(self.prev_hash, canonical_fields(self.version, self.chain_seq, self.fields))


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

    @property
    def identity(self) -> tuple[str, str, int, str | None]:
        """What makes two runs' reports the same break (the detail's wording may change)."""
        return (self.chain_key, self.kind, self.position, self.row_id)

    def describe(self) -> str:
        row = f"row {self.row_id} " if self.row_id else ""
        return (
            f"BROKEN {self.chain_key}: {row}at position {self.position} {self.kind}: {self.detail}"
        )


# A chain's last row as a checkpoint saw it: (position, row_hash).
Head = tuple[int, str]


@dataclass(frozen=True)
class KnownBreak:
    """A break an earlier run reported, kept in the checkpoint file with when it was first seen."""

    found: Break
    first_seen: str

    def describe(self) -> str:
        return f"KNOWN {self.found.describe()} (first seen {self.first_seen})"


@dataclass
class Checkpoint:
    """What ``verify --all --checkpoint FILE`` keeps between runs, outside the database.

    ``heads``: each chain's last row as last seen, advanced chain by chain; a chain with a new
    break keeps its earlier head for that run, so the evidence (the row that was there) stays.
    ``breaks``: every break ever reported, with when it was first seen. The next run reports
    them as known and fails only on breaks not among them.
    """

    heads: dict[str, Head] = field(default_factory=dict)
    breaks: list[KnownBreak] = field(default_factory=list)

    def known(self) -> dict[tuple[str, str, int, str | None], KnownBreak]:
        return {k.found.identity: k for k in self.breaks}


@dataclass
class Report:
    chains: int = 0
    rows: int = 0
    breaks: list[Break] = field(default_factory=list)  # new: not in the checkpoint
    known: list[KnownBreak] = field(default_factory=list)  # seen again, reported before
    heads: dict[str, Head] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.breaks


def _expected_chain(row: ChainRow) -> str | None:
    """The chain a row belongs in; None when any unattributed chain will do (its day is the
    day the row arrived, which the row does not record separately)."""
    conversation = row.conversation_id
    return None if conversation is None else CONVERSATION_CHAIN + conversation


def chain_breaks(rows: Sequence[ChainRow], retired: Head | None = None) -> list[Break]:
    """Walk one chain in position order; every row whose chain, content or link is wrong. After
    a break the walk goes on from the row as stored, so a later break is reported too. A chain
    whose older rows were retired starts from its retired tail (position, hash)."""
    position = {r.row_hash: i for i, r in enumerate(rows)}
    expected_prev = GENESIS if retired is None else retired[1]
    found: list[Break] = []
    for i, row in enumerate(rows):
        expected_key = _expected_chain(row)
        if (expected_key is not None and row.chain_key != expected_key) or (
            expected_key is None and not row.chain_key.startswith(UNATTRIBUTED_CHAIN)
        ):
            where = (
                f"conversation {row.conversation_id}" if row.conversation_id else "no conversation"
            )
            found.append(Break.at(row, "misfiled", f"the row is of {where}, not of this chain"))
        elif row.prev_hash != expected_prev:
            before = position.get(row.prev_hash)
            if before is not None and before != i - 1:
                found.append(
                    Break.at(
                        row,
                        "reordered",
                        f"it was written after the row now at position {rows[before].chain_seq}",
                    )
                )
            else:
                found.append(
                    Break.at(
                        row,
                        "removed",
                        "the row written before it is missing (deleted, or rewritten with a new "
                        "hash)",
                    )
                )
        elif row.computed_hash() != row.row_hash:
            # Version 2 hashes the position too: a row moved without its neighbours shows here.
            found.append(Break.at(row, "changed", "its content no longer matches its hash"))
        expected_prev = row.row_hash
    return found


def first_break(rows: Sequence[ChainRow]) -> Break | None:
    found = chain_breaks(rows)
    return found[0] if found else None


def _chains(records: Iterable[tuple[Any, ...]]) -> Iterator[list[ChainRow]]:
    chain: list[ChainRow] = []
    for key, seq, prev, digest, version, *fields in records:
        row = ChainRow(key, int(seq), prev, digest, int(version), tuple(fields))
        if chain and chain[-1].chain_key != key:
            yield chain
            chain = []
        chain.append(row)
    if chain:
        yield chain


def cut_since(chain: Sequence[ChainRow], head: Head, retired: Head | None = None) -> Break | None:
    """The row a checkpoint saw last in this chain is gone: rows were cut from its end (not
    retired: a head at or before the retired tail left with its partition)."""
    position, digest = head
    if any(r.chain_seq == position and r.row_hash == digest for r in chain):
        return None
    if _retired_since(head, retired):
        return None
    return Break(
        chain[-1].chain_key,
        "removed",
        position,
        f"the checkpoint's last row is gone; the chain now ends at position {chain[-1].chain_seq}",
    )


def _has_tails(conn: psycopg.Connection[Any]) -> bool:
    """Whether the trail is partitioned (migration 0012), so retirement may have happened."""
    row = conn.execute("SELECT to_regclass('agent_interactions_retired_tails')").fetchone()
    return row is not None and row[0] is not None


def _retired_since(head: Head, retired: Head | None) -> bool:
    if retired is None:
        return False
    return head[0] < retired[0] or head == retired


def verify(
    database_url: str,
    *,
    conversation_id: str | None = None,
    checkpoint: Checkpoint | None = None,
) -> Report:
    """Verify one conversation's chain, or every chain when ``conversation_id`` is None.

    With ``checkpoint`` (an earlier run's, kept outside the database) rows removed from the end
    of a chain, or whole chains, since then are caught too; breaks it already records are
    reported as known, and the report's ``heads`` advance for every chain without a new break.
    """
    where, params = "", tuple[str, ...]()
    if conversation_id is not None:
        where, params = "WHERE chain_key = %s", (CONVERSATION_CHAIN + conversation_id,)
    earlier = checkpoint or Checkpoint()
    known = earlier.known()
    report = Report()

    def sort(found: Break) -> bool:
        """File a break as known or new; whether it is new."""
        if found.identity in known:
            report.known.append(known[found.identity])
            return False
        report.breaks.append(found)
        return True

    # One snapshot for the tails and the rows (a retirement meanwhile changes neither view); a
    # server-side cursor streams a large table chain after chain.
    with psycopg.connect(database_url, prepare_threshold=None) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        tails: dict[str, Head] = {}
        if _has_tails(conn):
            tails = {
                key: (int(seq), digest)
                for key, seq, digest in conn.execute(TAILS_SQL.format(where=where), params)
            }
        cursor = conn.cursor(name="audit_verify")
        cursor.itersize = 2000
        cursor.execute(SELECT_SQL.format(where=where), params)
        for chain in _chains(cursor):
            key = chain[0].chain_key
            report.chains += 1
            report.rows += len(chain)
            found = chain_breaks(chain, tails.get(key))
            if key in earlier.heads:
                cut = cut_since(chain, earlier.heads[key], tails.get(key))
                if cut is not None:
                    found.append(cut)
            new = [b for b in found if sort(b)]
            if new and key in earlier.heads:
                report.heads[key] = earlier.heads[key]
            else:
                report.heads[key] = (chain[-1].chain_seq, chain[-1].row_hash)
    if conversation_id is None:
        for key in sorted(set(earlier.heads) - set(report.heads)):
            if _retired_since(earlier.heads[key], tails.get(key)):
                continue  # retired whole: its rows left with their partitions
            gone = "the whole chain is gone since the checkpoint"
            sort(Break(key, "removed", earlier.heads[key][0], gone))
            report.heads[key] = earlier.heads[key]
    return report


def updated(checkpoint: Checkpoint, report: Report, *, now: datetime | None = None) -> Checkpoint:
    """The checkpoint to keep after ``report``: its heads, and its new breaks added to the known."""
    seen = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    return Checkpoint(
        heads=dict(report.heads),
        breaks=[*checkpoint.breaks, *(KnownBreak(b, seen) for b in report.breaks)],
    )


def load_checkpoint(path: Path) -> Checkpoint:
    if not path.exists():
        return Checkpoint()
    data = json.loads(path.read_text())
    if "heads" not in data:  # the first format: the heads alone
        data = {"heads": data, "breaks": []}
    return Checkpoint(
        heads={key: (int(seq), str(digest)) for key, (seq, digest) in data["heads"].items()},
        breaks=[
            KnownBreak(Break(**{k: v for k, v in b.items() if k != "first_seen"}), b["first_seen"])
            for b in data["breaks"]
        ],
    )


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    data = {
        "format": 2,
        "heads": {k: list(v) for k, v in sorted(checkpoint.heads.items())},
        "breaks": [asdict(k.found) | {"first_seen": k.first_seen} for k in checkpoint.breaks],
    }
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(data, indent=1))
    partial.replace(path)


def as_lines(report: Report) -> list[str]:
    lines = [b.describe() for b in report.breaks] + [k.describe() for k in report.known]
    verdict = "OK" if report.ok else f"FAILED ({len(report.breaks)} broken)"
    known = f", {len(report.known)} known break(s)" if report.known else ""
    lines.append(f"{verdict}: {report.chains} chain(s), {report.rows} row(s) verified{known}")
    return lines
