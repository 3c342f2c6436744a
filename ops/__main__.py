"""Operator commands.

    python -m ops trail --conversation conv-001 [--json]
    python -m ops history --customer cust-7788 [--json]
    python -m ops verify (--conversation conv-001 | --all [--checkpoint FILE])
                                            exit 1 on a broken chain
    python -m ops purge-idempotency         delete expired idempotency records (schedule it)
    python -m ops erase --customer cust-7788 erase a customer's personal data (their keys)
    python -m ops seal | prove | verify-proof | verify-consistency | transparency-key | reconcile
                                            transparency log, pending claims (transparency_cli)
    python -m ops decisions --claim CLM-001000          every triage decision on a claim
    python -m ops fast-tracked --above 5000.00 [--currency USD]

Reads DATABASE_URL (or --database-url).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import psycopg

from ops import decisions, transparency_cli, verify
from ops.erase import erase_customer
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
        help="with --all: compare with the chain heads and known breaks saved here by the last "
        "run (rows cut from a chain's end, whole chains deleted), fail only on breaks not known "
        "yet, then save each chain's head and the breaks found; keep it where the database's "
        "administrators cannot rewrite it",
    )
    check.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    purge = sub.add_parser(
        "purge-idempotency", help="delete expired idempotency records (safe while serving)"
    )
    purge.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    erase = sub.add_parser(
        "erase", help="erase a customer's personal data: destroy their data keys (for good)"
    )
    erase.add_argument("--customer", required=True)
    erase.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    transparency_cli.add_parsers(sub)
    decisions.add_commands(sub)
    for name in ("decisions", "fast-tracked"):
        sub.choices[name].add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args(argv)
    if args.command in transparency_cli.COMMANDS:
        return transparency_cli.run(args, lambda: args.database_url or _dev_database_url())
    if args.command == "verify" and args.checkpoint and not args.all:
        parser.error("--checkpoint goes with --all")
    if args.command == "trail" and not args.conversation.strip():
        parser.error(
            "trail needs a conversation id: --conversation conv-001 "
            "(make trail CONVERSATION=conv-001)"
        )
    if args.command == "history" and not args.customer.strip():
        parser.error(
            "history needs a customer id: --customer cust-7788 (make history CUSTOMER=cust-7788)"
        )
    url = args.database_url or _dev_database_url()
    if args.command == "verify":
        return _verify(url, args.conversation, args.checkpoint)
    if args.command in ("decisions", "fast-tracked"):
        return _print(decisions.run(args, url))
    if args.command == "erase":
        done = erase_customer(url, args.customer)
        print(
            f"erased {done.keys} key(s) of customer {args.customer}; "
            f"{done.idempotency_records} idempotency record(s) deleted"
        )
        return 0
    if args.command == "purge-idempotency":
        print(f"purged {purge_expired(url)} expired idempotency record(s)")
        return 0
    if args.command == "trail":
        rows = fetch(url, conversation_id=args.conversation, limit=args.limit)
    else:
        rows = fetch(url, customer_id=args.customer, limit=args.limit)
    return _print(as_json_lines(rows) if args.json else as_text(rows))


def _print(lines: Iterable[str]) -> int:
    """Print until the reader stops reading (``| head``): that is the reader's choice, not a
    failure, so no traceback and exit 0."""
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at devnull so that flush cannot fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0


def _verify(url: str, conversation_id: str | None, checkpoint: Path | None) -> int:
    earlier = verify.load_checkpoint(checkpoint) if checkpoint else None
    try:
        report = verify.verify(url, conversation_id=conversation_id, checkpoint=earlier)
    except psycopg.errors.UndefinedColumn:
        print("the audit table's hash chain is missing or old: apply the migrations (make migrate)")
        return 2
    for line in verify.as_lines(report):
        print(line)
    if checkpoint and earlier is not None:
        # Saved whatever the verdict: intact chains' heads advance, new breaks join the known
        # ones (each with when it was first seen), a broken chain keeps the head it had.
        verify.save_checkpoint(checkpoint, verify.updated(earlier, report))
        print(
            f"checkpoint: {len(report.heads)} chain head(s), "
            f"{len(earlier.breaks) + len(report.breaks)} known break(s) saved to {checkpoint}"
        )
    if conversation_id is not None and report.rows == 0:
        # Nothing to verify is not a pass: the whole conversation may have been deleted.
        print(f"NOT FOUND: no audit rows for conversation {conversation_id}")
        return 1
    return 0 if report.ok else 1


def _dev_database_url() -> str:
    """Without DATABASE_URL: the database the running `make run` chose, else the one it would."""
    from devstack.pg_urls import with_database
    from devstack.postgres import find_postgres
    from devstack.stack_env import StackNotRunning, read_stack_env

    try:
        return read_stack_env()["DATABASE_URL"]
    except (StackNotRunning, KeyError):
        pass
    found = find_postgres()
    if found.handle is not None:
        print("note: started a Postgres only to read it; set DATABASE_URL", file=sys.stderr)
    return with_database(found.url, "insurance_agent")


if __name__ == "__main__":
    raise SystemExit(main())
