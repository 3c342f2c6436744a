"""The layer's bytecode step: dependencies as bytecode only, our package with its sources."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devstack.layer_bytecode import precompile


def _layer(root: Path) -> Path:
    (root / "dep").mkdir(parents=True)
    (root / "dep" / "__init__.py").write_text("VALUE = 41\n")
    (root / "dep" / "calc.py").write_text("def plus_one(x):\n    return x + 1\n")
    (root / "dep" / "py2only.py").write_text("print 'only for Python 2'\n")
    (root / "own").mkdir()
    (root / "own" / "__init__.py").write_text("from dep.calc import plus_one\n")
    (root / "own" / "__pycache__").mkdir()
    (root / "own" / "__pycache__" / "stale.cpython-312.pyc").write_bytes(b"stale")
    return root


def test_dependencies_ship_as_bytecode_and_own_package_keeps_its_sources(tmp_path: Path) -> None:
    root = _layer(tmp_path / "python")
    done = precompile(root, own=("own",))
    assert done.sourceless == 2
    assert done.with_source == 1
    assert done.left_as_source == ("dep/py2only.py",)
    assert not (root / "dep" / "__init__.py").exists()
    assert (root / "dep" / "__init__.pyc").exists()
    assert (root / "dep" / "calc.pyc").exists()
    assert (root / "own" / "__init__.py").exists()
    assert sorted(p.name for p in (root / "own" / "__pycache__").iterdir()) == [
        f"__init__.{sys.implementation.cache_tag}.pyc"
    ]


def test_precompiled_layer_imports_in_a_clean_process(tmp_path: Path) -> None:
    root = _layer(tmp_path / "python")
    precompile(root, own=("own",))
    code = (
        f"import sys; sys.path.insert(0, {str(root)!r}); import dep, own; "
        "print(own.plus_one(dep.VALUE), dep.__spec__.loader.__class__.__name__)"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["42", "SourcelessFileLoader"]
