"""Operator commands.

    python -m ops trail --conversation conv-001 [--json]
    python -m ops history --customer cust-7788 [--json]
    python -m ops verify (--conversation conv-001 | --all [--checkpoint FILE])
                                            exit 1 on a broken chain
    python -m ops purge-idempotency         delete expired idempotency records
    python -m ops decisions --claim CLM-001000          every triage decision on a claim
    python -m ops fast-tracked --above 5000.00 [--currency USD]

Reads DATABASE_URL (or --database-url).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import psycopg

from ops import decisions, verify
from ops.idempotency import purge_expired
from ops.trail import as_json_lines, as_text, fetch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    trail = sub.add_parser("trail", help="a conversation's audit trail")
    trail.add_argument("--conversation", required=True)
    history = sub.add_parser("history", help="a customer's history")
    history.add_argument("--customer", required=True)
    for p in (trail, history):
        p.add_argument("--json", action="store_true", help="one JSON object per line")
        p.add_argument("--limit", type=int, default=500)
        p.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    check = sub.add_parser("verify", help="verify the audit hash chains; exit 1 if one is broken")
    which = check.add_mutually_exclusive_group(required=True)
    which.add_argument("--conversation", help="one conversation's chain")
    which.add_argument("--all", action="store_true", help="every chain (for a schedule)")
    check.add_argument(
        "--checkpoint",
        type=Path,
        help="with --all: compare with the chain heads saved here by the last good run (rows cut "
        "from a chain's end, whole chains deleted), then save the new heads if all is well; keep "
        "it where the database's administrators cannot rewrite it",
    )
    check.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    purge = sub.add_parser(
        "purge-idempotency", help="delete expired idempotency records (safe while serving)"
    )
    purge.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    decisions.add_commands(sub)
    for name in ("decisions", "fast-tracked"):
        sub.choices[name].add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args(argv)
    if args.command == "verify" and args.checkpoint and not args.all:
        parser.error("--checkpoint goes with --all")
    url = args.database_url or _dev_database_url()
    if args.command == "verify":
        return _verify(url, args.conversation, args.checkpoint)
    if args.command in ("decisions", "fast-tracked"):
        for line in decisions.run(args, url):
            print(line)
        return 0
    if args.command == "purge-idempotency":
        print(f"purged {purge_expired(url)} expired idempotency record(s)")
        return 0
    if args.command == "trail":
        rows = fetch(url, conversation_id=args.conversation, limit=args.limit)
    else:
        rows = fetch(url, customer_id=args.customer, limit=args.limit)
    lines = as_json_lines(rows) if args.json else as_text(rows)
    for line in lines:
        print(line)
    return 0


def _verify(url: str, conversation_id: str | None, checkpoint: Path | None) -> int:
    earlier = verify.load_checkpoint(checkpoint) if checkpoint else None
    try:
        report = verify.verify(url, conversation_id=conversation_id, checkpoint=earlier)
    except psycopg.errors.UndefinedColumn:
        print("the audit table has no hash chain yet: apply the migrations (make migrate)")
        return 2
    for line in verify.as_lines(report):
        print(line)
    if conversation_id is not None and report.rows == 0:
        # Nothing to verify is not a pass: the whole conversation may have been deleted.
        print(f"NOT FOUND: no audit rows for conversation {conversation_id}")
        return 1
    if not report.ok:
        return 1  # the checkpoint is left as it was: it is the evidence
    if checkpoint:
        verify.save_checkpoint(checkpoint, report.heads)
        print(f"checkpoint: {len(report.heads)} chain head(s) saved to {checkpoint}")
    return 0


def _dev_database_url() -> str:
    """Without DATABASE_URL: the database `make run` uses, on the server it would find."""
    from devstack.postgres import find_postgres, with_database

    found = find_postgres()
    if found.handle is not None:
        print("note: started a Postgres only to read it; set DATABASE_URL", file=sys.stderr)
    return with_database(found.url, "insurance_agent")


if __name__ == "__main__":
    raise SystemExit(main())
