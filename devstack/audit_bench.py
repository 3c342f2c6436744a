"""What the hash chain costs an audit write, and what the per-conversation lock serialises.

    python -m devstack.audit_bench [--writers 4] [--rows 400]

Writers (threads, each with its own connection, like containers) insert audit rows as the
functions do (one autocommit INSERT each) into a scratch database on the usual server, in
three setups: no chain (a copy of the table without the chain trigger), the chain with every
writer in its own conversation, and the chain with every writer in one conversation (the
worst case: one lock for all). Prints rows/s and per-insert latency percentiles.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable

import psycopg
from psycopg.types.json import Jsonb

from devstack import migrate
from devstack.postgres import find_postgres, scratch_database

INSERT = (
    "INSERT INTO {table} (id, created_at, conversation_id, customer_id, intent, outcome, "
    "payload, result, request_id, function_name, channel, duration_ms) VALUES "
    "(%s, now(), %s, 'cust-7788', 'policy_lookup', 'ok', %s, %s, %s, 'bench', 'direct', 1.5)"
)
PAYLOAD = {"policy_number": "POL-10001"}
RESULT = {"policy_number": "POL-10001", "status": "active", "totals": {"deductible": "500.00"}}


def run(
    url: str, table: str, writers: int, rows: int, conversation: Callable[[int], str]
) -> tuple[float, list[float]]:
    latencies: list[list[float]] = [[] for _ in range(writers)]
    failures: list[BaseException] = []
    start = threading.Barrier(writers + 1)

    def write(w: int) -> None:
        with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
            start.wait(timeout=30)
            sql = INSERT.format(table=table)
            try:
                for _ in range(rows):
                    t = time.perf_counter()
                    conn.execute(
                        sql, (uuid.uuid4(), conversation(w), Jsonb(PAYLOAD), Jsonb(RESULT), "r")
                    )
                    latencies[w].append((time.perf_counter() - t) * 1000)
            except psycopg.Error as exc:
                failures.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    start.wait(timeout=30)
    began = time.perf_counter()
    for t in threads:
        t.join(timeout=300)
    elapsed = time.perf_counter() - began
    if failures:
        raise failures[0]
    return writers * rows / elapsed, [x for per in latencies for x in per]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--rows", type=int, default=400)
    args = parser.parse_args(argv)
    found = find_postgres()
    name = f"ia_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    run_id = uuid.uuid4().hex[:6]
    try:
        with scratch_database(found.url, name) as url:
            migrate.apply(url, only="app")
            with psycopg.connect(url, autocommit=True) as conn:
                # Same columns and indexes, no triggers: what a write cost before the chain.
                conn.execute("CREATE TABLE unchained (LIKE agent_interactions INCLUDING ALL)")
                conn.execute(
                    "ALTER TABLE unchained ALTER chain_key DROP NOT NULL, "
                    "ALTER chain_seq DROP NOT NULL, ALTER prev_hash DROP NOT NULL, "
                    "ALTER row_hash DROP NOT NULL"
                )
            setups = [
                ("no chain (baseline)", "unchained", lambda w: f"b-{run_id}-{w}"),
                ("chain, a conversation each", "agent_interactions", lambda w: f"c-{run_id}-{w}"),
                ("chain, all in one conversation", "agent_interactions", lambda w: f"one-{run_id}"),
            ]
            print(f"{args.writers} writers x {args.rows} inserts, one connection each")
            for label, table, conversation in setups:
                rate, lat = run(url, table, args.writers, args.rows, conversation)
                q = statistics.quantiles(lat, n=100)
                print(
                    f"{label:<32} {rate:7.0f} rows/s   insert p50 {q[49]:5.2f} ms  "
                    f"p95 {q[94]:5.2f} ms  p99 {q[98]:5.2f} ms"
                )
    finally:
        found.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
