"""Sizes of what ``sam build`` produced, zipped (as deployed) and unzipped (Lambda's limit)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from bench.workload import FUNCTIONS
from devstack.template import layer_logical_ids


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def measure_dir(root: Path) -> dict[str, Any]:
    files = _files(root)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(root))
    return {
        "unzipped_bytes": sum(p.stat().st_size for p in files),
        "zipped_bytes": buffer.getbuffer().nbytes,
        "files": len(files),
        "pyc_files": sum(1 for p in files if p.suffix == ".pyc"),
        "listing": [str(p.relative_to(root)) for p in files] if len(files) <= 20 else [],
    }


def measure(build_dir: Path) -> dict[str, dict[str, Any]]:
    out = {layer: measure_dir(build_dir / layer) for layer in layer_logical_ids()}
    for name in FUNCTIONS.values():
        out[name] = measure_dir(build_dir / name)
    return out
