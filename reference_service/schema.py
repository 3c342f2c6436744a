"""The upstream contract as an OpenAPI document: schemas/upstream.openapi.json.

Generated from the reference service (without its /_admin routes), whose answers are described
with the functions' client models; a real insurance API that serves this document's routes and
shapes can stand in for it (README: "Your own upstream").

    python -m reference_service.schema           # write schemas/upstream.openapi.json
    python -m reference_service.schema --check   # exit 1 when the committed file is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from reference_service.app import create_app

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schemas" / "upstream.openapi.json"


def upstream_openapi() -> dict[str, Any]:
    app = create_app("postgresql://schema-only.invalid/unused", "unused", connect=False)
    document: dict[str, Any] = app.openapi()
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")
    args = parser.parse_args(argv)
    text = render(upstream_openapi())
    if args.check:
        if not SCHEMA.exists() or SCHEMA.read_text() != text:
            print(f"stale: {SCHEMA.relative_to(ROOT)} (run make upstream-schema)")
            return 1
        return 0
    SCHEMA.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA.write_text(text)
    print(f"wrote {SCHEMA.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
