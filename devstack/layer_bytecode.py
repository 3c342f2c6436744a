"""Precompile a built layer, so a cold start imports bytecode instead of compiling sources.

    python -m devstack.layer_bytecode .aws-sam/build/CommonLayer/python

``sam build`` ships no ``.pyc``, and Lambda mounts the layer read-only, so without this every
cold start compiles every module it imports (over half of a cold start, measured by
``make bench``). Bytecode beside the sources would take the layer past 30 MB unzipped, so the
dependencies ship as bytecode only (``module.pyc`` where ``module.py`` was; tracebacks keep
file and line, not the source text); the layer's own package keeps its sources with its
bytecode in ``__pycache__``. Unchecked-hash pycs: valid whatever the file times become in
the zip, and a layer version never changes.
"""

from __future__ import annotations

import argparse
import importlib.util
import py_compile
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from devstack.layer_slim import slim

OWN_PACKAGES = ("insurance_agent",)
MODE = py_compile.PycInvalidationMode.UNCHECKED_HASH


@dataclass(frozen=True)
class Compiled:
    sourceless: int
    with_source: int
    left_as_source: tuple[str, ...]


def precompile(root: Path, own: Iterable[str] = OWN_PACKAGES) -> Compiled:
    """Finish a built layer: slimmed (devstack.layer_slim), then compiled."""
    slimmed = slim(root)
    if slimmed.not_stripped:
        # Not fatal (the layer still works), but it may now be over Lambda's size budget.
        print(
            f"{root}: {len(slimmed.not_stripped)} native libraries left unstripped (no strip on "
            "PATH reads their architecture; see devstack/layer_slim.py): "
            + ", ".join(slimmed.not_stripped)
        )
    own_dirs = [root / name for name in own]
    for cache in list(root.rglob("__pycache__")):
        shutil.rmtree(cache)
    sourceless = with_source = 0
    failed: list[str] = []
    for source in sorted(root.rglob("*.py")):
        mine = any(source.is_relative_to(d) for d in own_dirs)
        target = Path(importlib.util.cache_from_source(str(source))) if mine else None
        try:
            py_compile.compile(
                str(source),
                cfile=str(target or source.with_suffix(".pyc")),
                doraise=True,
                invalidation_mode=MODE,
            )
        except py_compile.PyCompileError:
            failed.append(str(source.relative_to(root)))  # e.g. code for another Python
            continue
        if mine:
            with_source += 1
        else:
            source.unlink()
            sourceless += 1
    return Compiled(sourceless, with_source, tuple(failed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("layer", type=Path, help="a built layer's python/ directory")
    args = parser.parse_args(argv)
    done = precompile(args.layer)
    print(
        f"{args.layer}: {done.sourceless} modules as bytecode only, {done.with_source} with "
        f"sources ({', '.join(OWN_PACKAGES)}), {len(done.left_as_source)} left as source"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
