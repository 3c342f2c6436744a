"""Apply the schema migrations with yoyo (plain SQL files, tracked in the database).

python -m devstack.migrate [--database-url URL] [--only app|reference]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from yoyo import get_backend, read_migrations

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {
    "app": ROOT / "migrations",
    "reference": ROOT / "reference_service" / "migrations",
}


def yoyo_url(database_url: str) -> str:
    scheme, sep, rest = database_url.partition("://")
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        return f"postgresql+psycopg://{rest}"
    raise (
        ValueError(f"not a PostgreSQL URL (scheme {scheme!r})")
        if sep
        else ValueError("DATABASE_URL must be a URL like postgresql://user@host:5432/db")
    )


def apply(database_url: str, only: str | None = None) -> int:
    """Apply pending migrations; return how many ran."""
    backend = get_backend(yoyo_url(database_url))
    dirs = [str(SOURCES[only])] if only else [str(p) for p in SOURCES.values()]
    migrations = read_migrations(*dirs)
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return len(pending)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--only", choices=sorted(SOURCES))
    args = parser.parse_args(argv)
    if not args.database_url:
        print("DATABASE_URL is not set and --database-url was not given", file=sys.stderr)
        return 2
    count = apply(args.database_url, args.only)
    print(f"migrations applied: {count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
