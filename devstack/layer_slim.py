"""Slim a built layer before it is precompiled (devstack.layer_bytecode runs this first).

The layer must stay within 30 MB unzipped (cold starts read it; Lambda caps a function and its
layers at 250 MB). Two things in it are never used by the functions:

- debug symbols in native libraries (wheels ship them unstripped: libsodium alone is 3.7 MB,
  0.6 MB stripped). ``strip --strip-unneeded`` keeps every symbol a loader or caller needs; it
  is what Lambda packaging tools do (serverless-python-requirements' ``strip`` option). The
  template builds for arm64 by default, usually on an x86_64 machine, whose ``strip`` reads only
  its own architecture: each library goes to the first strip that reads it, binutils' for its
  architecture (``aarch64-linux-gnu-strip``, Debian's ``binutils-aarch64-linux-gnu``), then the
  host's, then ``llvm-strip`` (every architecture). Unstripped, the arm64 layer is 33.3 MB,
  over the limit; stripped, 29.3 MB (x86_64: 28.6 MB). A library none of them reads is left as
  it is, and said so.
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


# ELF e_machine of Lambda's two architectures, and the binutils prefix whose strip reads it.
BINUTILS_PREFIXES = {0x3E: "x86_64-linux-gnu", 0xB7: "aarch64-linux-gnu"}


def elf_machine(library: Path) -> int | None:
    """The ELF header's e_machine (the architecture), or None for a file that is not ELF."""
    with library.open("rb") as f:
        header = f.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def strip_tools(machine: int | None) -> list[str]:
    """The strips on PATH that may read a library of ``machine``, the likeliest first."""
    names = ["strip", "llvm-strip"]
    if machine in BINUTILS_PREFIXES:
        names.insert(0, f"{BINUTILS_PREFIXES[machine]}-strip")
    found = (shutil.which(name) for name in names)
    return list(dict.fromkeys(tool for tool in found if tool is not None))


def _strip(library: Path) -> bool:
    for tool in strip_tools(elf_machine(library)):
        done = subprocess.run(  # noqa: S603 -- a strip on a file of our build
            [tool, "--strip-unneeded", str(library)], capture_output=True, check=False
        )
        if done.returncode == 0:
            return True
    return False


def slim(root: Path) -> Slimmed:
    before = _size(root)
    stripped = 0
    not_stripped: list[str] = []
    for library in sorted(p for p in root.rglob("*.so*") if p.is_file()):
        if _strip(library):
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
