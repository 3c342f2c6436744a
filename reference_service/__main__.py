"""Run the reference insurance service.

    python -m reference_service --port 8081 [--database-url URL] [--admin] [--numbering insurer]

The API key defaults to REFERENCE_API_KEY; the schema is migrated and seeded when empty.
"""

from __future__ import annotations

import argparse
import os
import sys

import psycopg
import uvicorn

from devstack.migrate import apply
from reference_service import seed
from reference_service.app import create_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--admin", action="store_true", help="enable /_admin (dev and tests)")
    parser.add_argument("--reset", action="store_true", help="replace data with the seed")
    parser.add_argument(
        "--numbering",
        choices=sorted(seed.NUMBERINGS),
        default=os.environ.get("REFERENCE_NUMBERING", "default"),
        help="the ids seeded and issued: POL-10001/cust-7788/CLM-000101 (default) or another "
        "insurer's P00010001/C007788/CL00000101 (insurer)",
    )
    args = parser.parse_args(argv)
    os.environ["REFERENCE_NUMBERING"] = args.numbering
    api_key = os.environ.get("REFERENCE_API_KEY")
    if not args.database_url or not api_key:
        print("needs DATABASE_URL (or --database-url) and REFERENCE_API_KEY", file=sys.stderr)
        return 2
    apply(args.database_url, only="reference")
    with psycopg.connect(args.database_url, autocommit=True, prepare_threshold=None) as conn:
        if args.reset:
            seed.reset(conn)
        else:
            seed.seed_if_empty(conn)
    app = create_app(args.database_url, api_key, admin=args.admin)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
