"""Per-row costs of the audit trail, measured here for the capacity model (docs/capacity.md).

    .venv/bin/python -m bench.capacity.measure [--seconds 15] [--clients 4] [--days 35]

Makes a scratch database, migrates it (``--days``: with that many day partitions attached, as
retention keeps them online; the chain trigger's look-up of a chain's last row visits each
partition's index), then runs pgbench with insert_row.sql (writers spread
over many conversations) and hot_chain.sql (every writer in one conversation), and prints rows
per second, latency, bytes per row (table + indexes) and the sealer's cost per row.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import psycopg
from insurance_agent.transparency import log
from insurance_agent.transparency.signer import LocalEd25519Signer

from devstack import migrate
from devstack.postgres import find_postgres, scratch_database

HERE = Path(__file__).resolve().parent


def pgbench(url: str, script: Path, seconds: int, clients: int) -> dict[str, float]:
    info = psycopg.conninfo.conninfo_to_dict(url)
    out = subprocess.run(  # noqa: S603  -- our own arguments, no shell
        [  # noqa: S607  -- pgbench from PATH, like psql
            "pgbench", "-n", "-f", str(script), "-T", str(seconds), "-c", str(clients),
            "-j", str(min(clients, 2)), "-h", str(info.get("host", "127.0.0.1")),
            "-p", str(info.get("port", 5432)), "-U", str(info.get("user", "postgres")),
            str(info["dbname"]),
        ],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    latency = float(re.search(r"latency average = ([0-9.]+) ms", out).group(1))  # type: ignore[union-attr]
    return {"rows_per_s": tps, "latency_ms": latency}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--days", type=int, default=0, help="past day partitions to attach")
    args = parser.parse_args()
    found = find_postgres()
    name = f"ia_capacity_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with scratch_database(found.url, name) as url:
            migrate.apply(url, only="app")
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(
                    "SELECT agent_interactions_add_partition(current_date - d)"
                    " FROM generate_series(1, %s) d",
                    (args.days,),
                )
                (attached,) = conn.execute(
                    "SELECT count(*) FROM pg_inherits"
                    " WHERE inhparent = 'agent_interactions'::regclass"
                ).fetchone()  # type: ignore[misc]
            spread = pgbench(url, HERE / "insert_row.sql", args.seconds, args.clients)
            hot = pgbench(url, HERE / "hot_chain.sql", args.seconds, args.clients)
            with psycopg.connect(url, autocommit=True) as conn:
                (rows,) = conn.execute("SELECT count(*) FROM agent_interactions").fetchone()  # type: ignore[misc]
                table, total = conn.execute(
                    "SELECT sum(pg_relation_size(relid)), sum(pg_total_relation_size(relid))"
                    " FROM pg_partition_tree('agent_interactions')"
                ).fetchone()  # type: ignore[misc]
                signer = LocalEd25519Signer.generate("capacity.local/audit")
                started = time.perf_counter()
                sealed = log.seal(conn, signer, batch=50_000)
                seal_s = time.perf_counter() - started
                leaves = conn.execute(
                    "SELECT pg_total_relation_size('transparency_leaves')"
                ).fetchone()[0]  # type: ignore[index]
                settings: dict[str, str] = dict(
                    conn.execute(
                        "SELECT name, setting FROM pg_settings WHERE name IN"
                        " ('max_connections', 'synchronous_commit', 'shared_buffers')"
                    ).fetchall()
                )
    finally:
        found.stop()
    print(f"postgres: {settings}; {os.cpu_count()} CPUs; {args.clients} clients, {args.seconds}s")
    print(f"partitions attached (default included): {attached}")
    print(
        f"spread over conversations: {spread['rows_per_s']:.0f} rows/s, "
        f"{spread['latency_ms']:.2f} ms per insert+commit"
    )
    print(
        f"one hot conversation:      {hot['rows_per_s']:.0f} rows/s, "
        f"{hot['latency_ms']:.2f} ms per insert+commit"
    )
    print(f"rows {rows}: heap {table / rows:.0f} B/row, with indexes {total / rows:.0f} B/row")
    print(
        f"sealer: {sealed.appended} rows in {seal_s:.2f}s = {sealed.appended / seal_s:.0f} rows/s;"
        f" leaves {leaves / max(sealed.appended, 1):.0f} B/row"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
