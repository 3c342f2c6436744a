"""Files generated from the contract (action-group schemas, MCP tool definitions): written, or
checked for drift, the same way by each generator."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from devstack.template import ROOT


def write_or_check(files: Mapping[Path, str], *, check: bool, remedy: str) -> int:
    """Write each file its text, or with ``check`` list those whose text differs; the exit
    status (1 when any is stale)."""
    stale = []
    for path, text in files.items():
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {os.path.relpath(path, ROOT)}")
    for path in stale:
        print(f"stale: {os.path.relpath(path, ROOT)} (run {remedy})")
    return 1 if stale else 0
