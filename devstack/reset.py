"""``make reset``: empty the local development data on purpose, and say what was emptied.

Drops the database ``make run`` uses (the audit trail, idempotency records, the reference
service's claims: development data, all of it) on the server ``make run`` would find; the next
``make run`` creates it again, migrated and seeded. Refuses while a stack is running on it, and
refuses a database ``make run`` did not make its own (only ``DATABASE_URL`` can name another).
"""

from __future__ import annotations

import argparse
import sys

import psycopg

from devstack.pg_urls import server_address, with_database
from devstack.postgres import PostgresNotFound, find_postgres
from devstack.stack import chosen_database
from devstack.stack_env import STACK_ENV


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", default=None, help="default: the one `make run` uses")
    args = parser.parse_args(argv)
    if STACK_ENV.exists():
        print(f"make reset: a stack is running ({STACK_ENV} exists): stop `make run` first")
        return 2
    database = chosen_database(args.database)
    if database in ("postgres", "template0", "template1"):
        print(f"make reset: refusing to drop the server's own database {database!r}")
        return 2
    try:
        found = find_postgres()
    except PostgresNotFound as exc:
        print(f"make reset: {exc}")
        return 2
    try:
        with psycopg.connect(with_database(found.url, "postgres"), autocommit=True) as conn:
            existed = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        found.stop()
    where = f"{found.source} ({server_address(found.url)})"
    if existed:
        print(
            f"reset: dropped database {database} on {where}: its audit trail, idempotency "
            "records and the reference service's claims are gone; the next `make run` "
            "creates it again, migrated and seeded"
        )
    else:
        print(f"reset: nothing to do, database {database} does not exist on {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
