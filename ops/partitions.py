"""`python -m ops partitions | retire | verify-export`: the audit trail's day partitions
(migration 0012) and their retention.

    python -m ops partitions [--ensure [--days-ahead N]]   list them; make the next days'
    python -m ops retire --export-dir DIR [--partition NAME] [--min-age-days N] [--drop]
                            export the oldest day with proofs, check the export, detach it
    python -m ops verify-export FILE [FILE ...] --public-key KEY     offline; exit 1 if it fails

`retire` runs as the table's owner (the migration login): detaching is the owner's right, and
no function of the stack holds it. It retires the oldest day only, once it is at least
``--min-age-days`` old, wholly sealed into the transparency log, and no claim intent in it waits
for its result; the export is verified before anything is detached. The detached table keeps
its rows, append-only, until `--drop` (or a later DROP TABLE once the export is archived, e.g.
in S3 under Object Lock beside the checkpoints).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from insurance_agent import partitions
from insurance_agent.transparency import export
from insurance_agent.transparency.note import VerifierKey
from psycopg import sql

DEFAULT_MIN_AGE_DAYS = 2

WAITING_INTENTS_SQL = """
SELECT count(*) FROM agent_interactions i
WHERE i.id >= %(low)s AND i.id < %(high)s AND i.outcome = 'pending'
  AND NOT EXISTS (SELECT FROM agent_interactions r WHERE r.intent_id = i.id)
"""

# Each chain's last row in the partition, unless a later retirement recorded a later one.
TAILS_SQL = """
INSERT INTO agent_interactions_retired_tails AS t
    (chain_key, chain_seq, row_hash, created_at, owner, partition)
SELECT a.chain_key, max(a.chain_seq),
       (pg_catalog.array_agg(a.row_hash ORDER BY a.chain_seq DESC))[1],
       max(a.created_at), max(a.customer_id), %(name)s
FROM agent_interactions a
WHERE a.id >= %(low)s AND a.id < %(high)s
GROUP BY a.chain_key
ON CONFLICT (chain_key) DO UPDATE
SET chain_seq = EXCLUDED.chain_seq, row_hash = EXCLUDED.row_hash,
    created_at = EXCLUDED.created_at, owner = COALESCE(t.owner, EXCLUDED.owner),
    partition = EXCLUDED.partition
WHERE EXCLUDED.chain_seq > t.chain_seq
"""


class RetireRefused(RuntimeError):
    """Retiring this partition now would lose evidence or break a chain: nothing was changed."""


@dataclass(frozen=True)
class Retired:
    partition: str
    rows: int
    export: Path
    tree_size: int
    dropped: bool

    def describe(self) -> str:
        kept = "dropped" if self.dropped else "kept as a detached table"
        return (
            f"retired {self.partition}: {self.rows} row(s) exported to {self.export} (proved "
            f"against the tree of {self.tree_size}, export verified), detached and {kept}"
        )


def ensure(url: str, days_ahead: int = partitions.DAYS_AHEAD) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return partitions.ensure(conn, days_ahead)


def listing(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        found = partitions.attached(conn)
        default_rows = partitions.in_default(conn)
    lines = [
        f"{p.name}\t{p.bound}\t"
        + (f"~{p.estimated_rows} row(s)" if p.estimated_rows >= 0 else "not analysed yet")
        for p in found
    ]
    lines.append(
        f"rows in agent_interactions_default: {default_rows}"
        + ("" if default_rows == 0 else " (days without a partition: run --ensure ahead)")
    )
    return lines


def _oldest_day(conn: psycopg.Connection[Any]) -> partitions.Partition:
    days = [p for p in partitions.attached(conn) if p.day is not None]
    if not days:
        raise RetireRefused("agent_interactions has no day partition")
    return min(days, key=lambda p: p.day or date.max)


def retire(
    url: str,
    *,
    export_dir: Path,
    key: VerifierKey,
    partition: str | None = None,
    min_age_days: int = DEFAULT_MIN_AGE_DAYS,
    drop: bool = False,
) -> Retired:
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        oldest = _oldest_day(conn)
        if partition is not None and partition != oldest.name:
            raise RetireRefused(f"retire the oldest day first: {oldest.name}, not {partition}")
        assert oldest.day is not None
        row = conn.execute("SELECT (now() AT TIME ZONE 'UTC')::date").fetchone()
        assert row is not None
        today: date = row[0]
        if oldest.day > today - timedelta(days=min_age_days):
            raise RetireRefused(
                f"{oldest.name} is not {min_age_days} day(s) old yet (today is {today})"
            )
        # Every query names the partition by its id range, which prunes to it: a filter on
        # tableoid would not, and would scan every day of the trail.
        name = oldest.name
        low, high = export.partition_bounds(conn, name)
        bounds = {"low": low, "high": high}
        waiting = conn.execute(WAITING_INTENTS_SQL, bounds).fetchone()
        if waiting and waiting[0]:
            raise RetireRefused(
                f"{waiting[0]} claim intent(s) in {name} still wait for their result: "
                "run `python -m ops reconcile`"
            )
        export_dir.mkdir(parents=True, exist_ok=True)
        target = export_dir / f"{name}.jsonl"
        partial = target.with_name(target.name + ".partial")
        try:
            with partial.open("w") as out:
                written = export.write_export(conn, name, out)  # NotSealed if any row is not
            export.verify_export([partial], key)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)
        with conn.transaction():
            # The detach holds the parent's strongest lock for milliseconds (no CONCURRENTLY
            # beside a default partition); queue behind writers for at most this long.
            conn.execute("SET LOCAL lock_timeout = '2s'")
            # No row may arrive between the export and the detach unexported.
            conn.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(sql.Identifier(name)))
            now_held = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name))
            ).fetchone()
            if now_held is None or now_held[0] != written.rows:
                raise RetireRefused(
                    f"{name} holds {now_held[0] if now_held else '?'} row(s), the export "
                    f"{written.rows}: a row arrived meanwhile; run retire again"
                )
            conn.execute(TAILS_SQL, {"name": name, **bounds})
            conn.execute(
                sql.SQL("ALTER TABLE public.agent_interactions DETACH PARTITION {}").format(
                    sql.Identifier(name)
                )
            )
            # Detaching drops the row triggers the parent lent it: the kept table stays
            # append-only on its own.
            conn.execute(
                sql.SQL(
                    "CREATE TRIGGER agent_interactions_no_update_delete BEFORE UPDATE OR DELETE"
                    " ON {} FOR EACH ROW EXECUTE FUNCTION public.agent_interactions_append_only()"
                ).format(sql.Identifier(name))
            )
            if drop:
                conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
    return Retired(name, written.rows, target, written.tree_size, drop)
