"""The built layer as `make build` leaves it: bytecode that a clean process imports, in size."""

from __future__ import annotations

from pathlib import Path

LAYER_LIMIT_BYTES = 30_000_000  # issue 6: the layer stays within 30 MB unzipped


def test_dependencies_ship_as_bytecode_only_and_our_package_with_its_sources(sam_build: Path):
    layer = sam_build / "CommonLayer" / "python"
    own = layer / "insurance_agent"
    dependency_sources = [p for p in layer.rglob("*.py") if not p.is_relative_to(own)]
    assert dependency_sources == []
    assert (layer / "pydantic" / "main.pyc").exists()
    assert (own / "entry.py").exists()
    assert list((own / "__pycache__").glob("entry.*.pyc"))


def test_precompiled_layer_stays_within_30_mb_unzipped(sam_build: Path):
    layer = sam_build / "CommonLayer"
    assert sum(f.stat().st_size for f in layer.rglob("*") if f.is_file()) <= LAYER_LIMIT_BYTES
