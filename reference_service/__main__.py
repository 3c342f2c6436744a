"""Run the reference insurance service.

    python -m reference_service --port 8081 [--database-url URL] [--admin] [--numbering insurer]
                                [--workers N]

The API key defaults to REFERENCE_API_KEY; the schema is migrated and seeded when empty.
``--workers N`` serves from N processes, as an upstream fleet does (one process's handlers
share one GIL); ``/_admin`` keeps its state in the process, so it needs one worker.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

import psycopg
import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

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
    parser.add_argument("--workers", type=int, default=1, help="processes serving requests")
    args = parser.parse_args(argv)
    os.environ["REFERENCE_NUMBERING"] = args.numbering
    api_key = os.environ.get("REFERENCE_API_KEY")
    if not args.database_url or not api_key:
        print("needs DATABASE_URL (or --database-url) and REFERENCE_API_KEY", file=sys.stderr)
        return 2
    if args.workers > 1 and args.admin:
        print("--admin keeps its state in one process: use --workers 1", file=sys.stderr)
        return 2
    apply(args.database_url, only="reference")
    with psycopg.connect(args.database_url, autocommit=True, prepare_threshold=None) as conn:
        if args.reset:
            seed.reset(conn)
        else:
            seed.seed_if_empty(conn)
    serve = {"host": args.host, "port": args.port, "log_level": "warning", "access_log": False}
    if args.workers > 1:
        # Each worker builds its app from the environment (uvicorn imports the factory by name).
        os.environ["DATABASE_URL"] = args.database_url
        config = uvicorn.Config(
            "reference_service.__main__:worker_app", factory=True, workers=args.workers, **serve
        )
        Multiprocess(config, sockets=[_listening(args.host, args.port)]).run()
        return 0
    uvicorn.run(create_app(args.database_url, api_key, admin=args.admin), **serve)
    return 0


def _listening(host: str, port: int) -> socket.socket:
    """The workers' shared socket. uvicorn's own (``Config.bind_socket``) leaves the protocol
    unnamed, and asyncio sets TCP_NODELAY only on sockets that say they are TCP: every
    keep-alive answer after the first then waits 40 ms for a delayed ACK (measured; uvicorn
    issue Kludex/uvicorn#3149, open as of uvicorn 0.54)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def worker_app() -> FastAPI:
    """One worker's app when several serve (``--workers``); never the admin routes."""
    return create_app(os.environ["DATABASE_URL"], os.environ["REFERENCE_API_KEY"])


if __name__ == "__main__":
    raise SystemExit(main())
