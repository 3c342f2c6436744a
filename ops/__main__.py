"""Operator commands.

    python -m ops trail --conversation conv-001 [--json]
    python -m ops history --customer cust-7788 [--json]

Reads DATABASE_URL (or --database-url).
"""

from __future__ import annotations

import argparse
import os
import sys

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
    args = parser.parse_args(argv)
    url = args.database_url or _dev_database_url()
    if args.command == "trail":
        rows = fetch(url, conversation_id=args.conversation, limit=args.limit)
    else:
        rows = fetch(url, customer_id=args.customer, limit=args.limit)
    lines = as_json_lines(rows) if args.json else as_text(rows)
    for line in lines:
        print(line)
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
