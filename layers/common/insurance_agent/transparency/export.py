"""Exports of a day partition of the audit trail, made before retention detaches it
(``python -m ops retire``), and their offline verification (``python -m ops verify-export``).

An export is JSON Lines: a header (format, partition, its id range, row count, the signed
checkpoint every row is proved against), then one line per row, each exactly a proof bundle's
entry (canonical bytes, row hash, leaf index, inclusion proof). So with nothing but the files
and the log's public key an outsider checks that every row is unchanged and in the signed tree,
that it belongs to the partition's day, and that each conversation's chain is whole inside the
files: no row missing between two others, no fork, positions consecutive. A chain whose first
row here links to a row not in the files continues from an earlier day; give the earlier
exports too and the link is checked across them.

What an export cannot show is that no row of the day was left out of it: the rows are leaves
among other days' leaves, and a missing one leaves no gap the files can see.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from uuid import UUID

from insurance_agent.transparency import merkle
from insurance_agent.transparency.bundle import (
    CHAIN_HASH_HEX,
    VerificationError,
    b64,
    check_entry,
    checkpoint_of,
    fields,
    unb64,
)
from insurance_agent.transparency.note import Checkpoint, VerifierKey

if TYPE_CHECKING:  # the verifier half runs where no database driver is installed
    import psycopg

FORMAT = "insurance-agent-api/partition-export/v1"
GENESIS = "0" * CHAIN_HASH_HEX

# The partition named by its id range, which prunes the scan to it (a filter on tableoid would
# not), read through the parent so each row has the row type the canonical functions take.
ROWS_SQL = """
SELECT a.id, a.row_hash, l.leaf_index,
       convert_to(a.prev_hash || CASE a.hash_version
           WHEN 1 THEN agent_interactions_canonical(a) ELSE agent_interactions_canonical_v2(a)
       END, 'UTF8')
FROM agent_interactions a
LEFT JOIN transparency_leaves l ON l.row_id = a.id
WHERE a.id >= %(low)s AND a.id < %(high)s
ORDER BY l.leaf_index
"""

BOUNDS_SQL = """
SELECT pg_catalog.pg_get_expr(c.relpartbound, c.oid)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid
WHERE i.inhparent = 'public.agent_interactions'::regclass AND c.relname = %s
"""


@dataclass(frozen=True)
class Written:
    partition: str
    rows: int
    tree_size: int


def partition_bounds(conn: psycopg.Connection[Any], partition: str) -> tuple[UUID, UUID]:
    """The id range of an attached day partition (not the default one)."""
    row = conn.execute(BOUNDS_SQL, (partition,)).fetchone()
    if row is None:
        raise LookupError(f"{partition} is not a partition of agent_interactions")
    bound = str(row[0])
    if not bound.startswith("FOR VALUES FROM ('"):
        raise LookupError(f"{partition} is not a day partition ({bound})")
    low, _, rest = bound.removeprefix("FOR VALUES FROM ('").partition("')")
    high = rest.removeprefix(" TO ('").removesuffix("')")
    return UUID(low), UUID(high)


def write_export(conn: psycopg.Connection[Any], partition: str, out: TextIO) -> Written:
    """Write the partition's export, every row proved against the latest checkpoint. Refuses
    (``NotSealed``) while a row of it is not in a signed checkpoint yet."""
    from insurance_agent.transparency.log import NotSealed, latest_checkpoint, leaf_hashes

    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        low, high = partition_bounds(conn, partition)
        checkpoint = latest_checkpoint(conn)
        if checkpoint is None:
            raise NotSealed("no checkpoint yet: run `python -m ops seal`")
        rows = conn.execute(ROWS_SQL, {"low": low, "high": high}).fetchall()
        unsealed = [r[0] for r in rows if r[2] is None or r[2] >= checkpoint.size]
        if unsealed:
            raise NotSealed(
                f"{len(unsealed)} row(s) of {partition} are not sealed yet (first: "
                f"{unsealed[0]}): run `python -m ops seal`"
            )
        leaves = leaf_hashes(conn, checkpoint.size)
    proofs = merkle.inclusion_proofs(leaves, (r[2] for r in rows))
    header = {
        "format": FORMAT,
        "partition": partition,
        "from_id": str(low),
        "to_id": str(high),
        "rows": len(rows),
        "checkpoint": checkpoint.note,
    }
    out.write(json.dumps(header) + "\n")
    for row_id, row_hash, leaf_index, canonical in rows:
        entry = {
            "row_id": str(row_id),
            "leaf_index": leaf_index,
            "row_hash": row_hash,
            "canonical": b64(bytes(canonical)),
            "inclusion_proof": [b64(h) for h in proofs[leaf_index]],
        }
        out.write(json.dumps(entry) + "\n")
    return Written(partition, len(rows), checkpoint.size)


@dataclass(frozen=True)
class _Link:
    row_id: str
    chain_key: str
    chain_seq: int | None  # None for content version 1, which does not hash the position
    prev_hash: str
    row_hash: str


@dataclass
class Verified:
    files: list[tuple[str, int, Checkpoint]] = field(default_factory=list)  # partition, rows
    chains: int = 0
    continued: int = 0  # chains whose first row here links to a row of an earlier day

    def lines(self, key: VerifierKey) -> list[str]:
        signer = f"{key.name}+{key.key_id.hex()}"
        found = [
            f"OK: {rows} row(s) of {partition} are leaves of the tree of {cp.size} signed by "
            f"{signer}"
            for partition, rows, cp in self.files
        ]
        return [
            *found,
            f"chains: {self.chains}, each whole; {self.continued} continue from a row of an "
            "earlier day not among these files",
        ]


def _link(row_id: str, row_hash: str, canonical: bytes) -> _Link:
    text = canonical.decode()
    prev, content = text[:CHAIN_HASH_HEX], text[CHAIN_HASH_HEX:]
    head = fields(content, 5)
    if len(head) == 5 and head[0] == "2" and head[2] == row_id:  # version 2: version, seq, id..
        seq = head[1]
        if seq is None or not seq.isdigit() or head[4] is None:
            raise VerificationError(f"row {row_id}: no chain position in its canonical bytes")
        return _Link(row_id, head[4], int(seq), prev, row_hash)
    if len(head) >= 3 and head[0] == row_id and head[2] is not None:  # version 1: id, time, key
        return _Link(row_id, head[2], None, prev, row_hash)
    raise VerificationError(f"row {row_id}: its canonical bytes name no chain")


def _read(path: Path, key: VerifierKey) -> tuple[str, Checkpoint, list[_Link]]:
    with path.open() as lines:
        try:
            header = json.loads(next(lines, "null"))
        except json.JSONDecodeError as exc:
            raise VerificationError(f"{path.name}: the header is not JSON: {exc.msg}") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise VerificationError(f"{path.name}: not a {FORMAT} file")
        checkpoint = checkpoint_of(header, key)
        partition = str(header.get("partition"))
        try:
            low, high = UUID(str(header.get("from_id"))), UUID(str(header.get("to_id")))
        except ValueError:
            raise VerificationError(f"{path.name}: the header's id range is not UUIDs") from None
        links: list[_Link] = []
        leaves: set[int] = set()
        for number, line in enumerate(lines, start=2):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise VerificationError(f"{path.name} line {number}: not JSON: {exc.msg}") from None
            found = check_entry(entry, checkpoint)
            if not low <= UUID(found.row_id) < high:
                raise VerificationError(f"row {found.row_id} is not of {partition}'s day")
            if found.leaf_index in leaves:
                raise VerificationError(f"leaf {found.leaf_index} appears twice in {path.name}")
            leaves.add(found.leaf_index)
            canonical = unb64(entry.get("canonical"), "the entry's canonical bytes")
            links.append(_link(found.row_id, found.row_hash, canonical))
    if header.get("rows") != len(links):
        raise VerificationError(
            f"{path.name}: the header counts {header.get('rows')} row(s), the file holds "
            f"{len(links)}: cut short, or rows added"
        )
    return partition, checkpoint, links


def _check_chain(key: str, links: list[_Link]) -> bool:
    """One chain's rows are one unbroken run; whether it continues from an earlier day."""
    by_prev: dict[str, _Link] = {}
    for link in links:
        if link.prev_hash in by_prev:
            raise VerificationError(
                f"chain {key}: rows {by_prev[link.prev_hash].row_id} and {link.row_id} both "
                "follow the same row (a fork)"
            )
        by_prev[link.prev_hash] = link
    hashes = {link.row_hash for link in links}
    starts = [link for link in links if link.prev_hash not in hashes]
    if len(starts) != 1:
        raise VerificationError(
            f"chain {key}: {len(starts)} runs where there should be one: a row between them "
            "is missing (or the chain loops)"
        )
    walked, at = 0, starts[0]
    while True:
        walked += 1
        after = by_prev.get(at.row_hash)
        if after is None:
            break
        if (
            at.chain_seq is not None
            and after.chain_seq is not None
            and after.chain_seq != at.chain_seq + 1
        ):
            raise VerificationError(
                f"chain {key}: row {after.row_id} at position {after.chain_seq} follows "
                f"position {at.chain_seq}"
            )
        at = after
    if walked != len(links):
        raise VerificationError(f"chain {key}: {len(links) - walked} row(s) off the chain")
    first = starts[0]
    if first.prev_hash == GENESIS:
        if first.chain_seq not in (None, 1):
            raise VerificationError(f"chain {key}: begins at position {first.chain_seq}")
        return False
    return True


def verify_export(paths: Iterable[Path], key: VerifierKey) -> Verified:
    """Check export files offline; ``VerificationError`` on the first thing that fails."""
    report = Verified()
    chains: dict[str, list[_Link]] = defaultdict(list)
    seen: set[str] = set()
    for path in paths:
        partition, checkpoint, links = _read(path, key)
        for link in links:
            if link.row_id in seen:
                raise VerificationError(f"row {link.row_id} appears in two exports")
            seen.add(link.row_id)
            chains[link.chain_key].append(link)
        report.files.append((partition, len(links), checkpoint))
    for chain_key, links in chains.items():
        report.chains += 1
        report.continued += _check_chain(chain_key, links)
    return report
