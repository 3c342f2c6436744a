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


def test_a_library_goes_first_to_the_strip_that_reads_its_architecture(
    tmp_path: Path, monkeypatch
) -> None:
    """An arm64 layer built on x86_64: the host's strip cannot read aarch64 libraries (left
    unstripped the layer was 33.3 MB, over Lambda's 30 MB budget); binutils' cross strip or
    llvm-strip can."""
    from devstack import layer_slim

    aarch64 = tmp_path / "libx.so"
    # ELF64, little-endian, e_machine 0xB7 (AArch64) at offset 18.
    aarch64.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(11) + (0xB7).to_bytes(2, "little"))
    (tmp_path / "notes.txt").write_bytes(b"not ELF at all, twenty bytes or more")
    assert layer_slim.elf_machine(aarch64) == 0xB7
    assert layer_slim.elf_machine(tmp_path / "notes.txt") is None
    on_path = {"strip", "llvm-strip", "aarch64-linux-gnu-strip"}
    monkeypatch.setattr(
        layer_slim.shutil, "which", lambda name: f"/usr/bin/{name}" if name in on_path else None
    )
    assert layer_slim.strip_tools(0xB7) == [
        "/usr/bin/aarch64-linux-gnu-strip",
        "/usr/bin/strip",
        "/usr/bin/llvm-strip",
    ]
    on_path.discard("aarch64-linux-gnu-strip")
    assert layer_slim.strip_tools(0xB7) == ["/usr/bin/strip", "/usr/bin/llvm-strip"]
    assert layer_slim.strip_tools(None) == ["/usr/bin/strip", "/usr/bin/llvm-strip"]
