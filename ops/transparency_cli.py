"""The transparency log's operator commands, registered on `python -m ops`.

python -m ops seal [--full]             append new audit rows, sign a checkpoint
python -m ops transparency-key          the verifier key outsiders check checkpoints with
python -m ops prove --row ID [--consistency-from SIZE] [--tree-size SIZE]
                                        a proof bundle (JSON) for one audit row
python -m ops prove --consistency-from SIZE   a bundle proving the tree only grew
python -m ops verify-proof BUNDLE --public-key KEY       offline: exit 1 if it fails
python -m ops verify-consistency OLD NEW --public-key KEY   offline: exit 1 if it fails
python -m ops partitions [--ensure [--days-ahead N]]   the trail's day partitions
python -m ops retire --export-dir DIR [--partition NAME] [--min-age-days N] [--drop]
                                        export the oldest day with proofs, detach it
python -m ops verify-export FILE [FILE ...] --public-key KEY   offline: exit 1 if it fails
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

from ops import partitions, prove, seal

COMMANDS = (
    "seal",
    "transparency-key",
    "prove",
    "verify-proof",
    "verify-consistency",
    "reconcile",
    "partitions",
    "retire",
    "verify-export",
)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sealer = sub.add_parser("seal", help="append new audit rows to the Merkle tree, sign")
    sealer.add_argument(
        "--full", action="store_true", help="look at every row, not only recent ones (restores)"
    )
    sub.add_parser("transparency-key", help="print the checkpoints' verifier key")
    proof = sub.add_parser("prove", help="a self-contained proof bundle (JSON on stdout)")
    proof.add_argument("--row", type=UUID, help="the audit row's id")
    proof.add_argument("--consistency-from", type=int, metavar="SIZE")
    proof.add_argument("--tree-size", type=int, metavar="SIZE", help="default: the latest")
    settle = sub.add_parser("reconcile", help="settle claim intents left pending (upstream asked)")
    settle.add_argument("--min-age-s", type=float, help="default 120: above the function timeout")
    settle.add_argument("--conversation", help="only this conversation's intents")
    parts = sub.add_parser("partitions", help="the audit trail's day partitions")
    parts.add_argument("--ensure", action="store_true", help="make today's and the next days'")
    parts.add_argument("--days-ahead", type=int, default=7)
    retire = sub.add_parser(
        "retire", help="export the oldest day partition with proofs, verify it, detach it"
    )
    retire.add_argument("--export-dir", type=Path, required=True)
    retire.add_argument("--partition", help="refused unless it is the oldest day")
    retire.add_argument("--min-age-days", type=int, default=partitions.DEFAULT_MIN_AGE_DAYS)
    retire.add_argument("--drop", action="store_true", help="drop the detached table too")
    retire.add_argument(
        "--public-key", help="check the export with this key (default: the sealer's own)"
    )
    for p in (sealer, proof, settle, parts, retire):
        p.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    exported = sub.add_parser(
        "verify-export", help="check partition exports offline (exit 1 if one fails)"
    )
    exported.add_argument("exports", type=Path, nargs="+", help="oldest day first, or any order")
    check = sub.add_parser("verify-proof", help="check a bundle offline (exit 1 if it fails)")
    check.add_argument("bundle", type=Path)
    consistent = sub.add_parser(
        "verify-consistency", help="check that NEW's tree extends OLD's, offline"
    )
    consistent.add_argument("old", type=Path, help="a bundle or a signed checkpoint note")
    consistent.add_argument("new", type=Path, help="a bundle with a consistency proof from OLD")
    for p in (check, consistent, exported):
        p.add_argument(
            "--public-key", required=True, help="verifier key <name>+<id>+<key>, or its file"
        )


def run(args: argparse.Namespace, database_url: Callable[[], str]) -> int:
    if args.command == "verify-proof":
        return _report(lambda: prove.verify_proof(args.bundle, args.public_key))
    if args.command == "verify-consistency":
        return _report(lambda: prove.verify_consistency(args.old, args.new, args.public_key))
    if args.command == "verify-export":
        return _report(lambda: prove.verify_exports(args.exports, args.public_key))
    if args.command == "partitions":
        if args.ensure:
            made = partitions.ensure(database_url(), args.days_ahead)
            print(f"partitions made: {made}")
        for line in partitions.listing(database_url()):
            print(line)
        return 0
    if args.command == "retire":
        key = prove.read_key(args.public_key) if args.public_key else None
        try:
            done = partitions.retire(
                database_url(),
                export_dir=args.export_dir,
                key=key or prove.read_key(seal.public_key()),
                partition=args.partition,
                min_age_days=args.min_age_days,
                drop=args.drop,
            )
        except (partitions.RetireRefused, LookupError) as exc:
            print(f"not retired: {exc}", file=sys.stderr)
            return 1
        print(done.describe())
        return 0
    if args.command == "transparency-key":
        print(seal.public_key())
        return 0
    if args.command == "reconcile":
        from ops import reconcile

        print(
            reconcile.run(
                database_url(), min_age_s=args.min_age_s, conversation_id=args.conversation
            )
        )
        return 0
    if args.command == "seal":
        print(seal.as_text(seal.seal(database_url(), full=args.full)))
        return 0
    if args.row is None and args.consistency_from is None:
        print("prove needs --row ID and/or --consistency-from SIZE", file=sys.stderr)
        return 2
    try:
        sys.stdout.write(
            prove.prove(
                database_url(),
                row_id=args.row,
                consistency_from=args.consistency_from,
                tree_size=args.tree_size,
            )
        )
    except LookupError as exc:  # unknown row, not sealed yet, no such checkpoint
        print(f"cannot prove: {exc}", file=sys.stderr)
        return 1
    return 0


def _report(check: Callable[[], list[str]]) -> int:
    try:
        lines = check()
    except prove.FAILURES as exc:
        print(f"FAILED: {exc}")
        return 1
    except OSError as exc:  # a bundle or key file that cannot be read
        print(f"cannot read {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0
