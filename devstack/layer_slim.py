"""Slim a built layer before it is precompiled (devstack.layer_bytecode runs this first).

The layer must stay within 30 MB unzipped (cold starts read it; Lambda caps a function and its
layers at 250 MB). Two things in it are never used by the functions:

- debug symbols in native libraries (wheels ship them unstripped: libsodium alone is 3.7 MB,
  0.6 MB stripped). ``strip --strip-unneeded`` keeps every symbol a loader or caller needs; it
  is what Lambda packaging tools do (serverless-python-requirements' ``strip`` option). A library
  this machine's ``strip`` cannot read (another architecture's) is left as it is, and said so.
- Powertools' bundled Swagger UI (``event_handler/openapi/swagger_ui``: 1.7 MB of JS and CSS),
  served only by Powertools' own REST resolvers with ``enable_swagger``; the functions answer
  HTTP through FastAPI and Mangum. Its Python module stays: only the static files go.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

UNUSED_ASSETS = ("aws_lambda_powertools/event_handler/openapi/swagger_ui",)
ASSET_SUFFIXES = (".js", ".css", ".map")


@dataclass(frozen=True)
class Slimmed:
    stripped: int
    not_stripped: tuple[str, ...]
    assets_removed: int
    bytes_saved: int


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def slim(root: Path) -> Slimmed:
    before = _size(root)
    strip = shutil.which("strip")
    stripped = 0
    not_stripped: list[str] = []
    for library in sorted(p for p in root.rglob("*.so*") if p.is_file()):
        if strip is None:
            not_stripped.append(str(library.relative_to(root)))
            continue
        done = subprocess.run(  # noqa: S603 -- binutils' strip on a file of our build
            [strip, "--strip-unneeded", str(library)], capture_output=True, check=False
        )
        if done.returncode == 0:
            stripped += 1
        else:
            not_stripped.append(str(library.relative_to(root)))
    removed = 0
    for folder in UNUSED_ASSETS:
        for asset in (root / folder).glob("*"):
            if asset.suffix in ASSET_SUFFIXES:
                asset.unlink()
                removed += 1
    return Slimmed(stripped, tuple(not_stripped), removed, before - _size(root))
