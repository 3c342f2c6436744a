"""The set-up a newcomer meets before anything runs: which Python, `make help`, and that a
missing Python 3.12 is one line saying what to install, not a uv error."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from devstack.stack import ROOT

FIND_PYTHON = ROOT / "tools" / "find-python.sh"
REAL_312 = Path(sys.base_prefix) / "bin" / "python3.12"


def crafted_bin(tmp_path: Path, *, python3: str | None) -> Path:
    """A PATH directory with make and bash, and a python3 that is not 3.12 (or none)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "bash"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    if python3:
        (bin_dir / "python3").symlink_to(python3)
    return bin_dir


def other_python() -> str | None:
    for name in ("python3.11", "python3.13", "python3.10"):
        found = shutil.which(name)
        if found:
            return found
    return None


def find_python(tmp_path: Path, bin_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": str(bin_dir), "HOME": str(tmp_path / "home")}
    return subprocess.run(
        ["/bin/bash", str(FIND_PYTHON)],
        env=base | env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_without_312_and_without_downloads_one_line_says_what_to_install(tmp_path):
    bin_dir = crafted_bin(tmp_path, python3=other_python())
    done = find_python(tmp_path, bin_dir, UV_PYTHON_DOWNLOADS="never")
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "install Python 3.12" in lines[0]
    assert "UV_PYTHON_DOWNLOADS" in lines[0]


def test_without_312_uv_may_fetch_one_when_downloads_are_allowed(tmp_path):
    bin_dir = crafted_bin(tmp_path, python3=other_python())
    for setting in ({}, {"UV_PYTHON_DOWNLOADS": "automatic"}):
        done = find_python(tmp_path, bin_dir, **setting)
        assert (done.returncode, done.stdout.strip()) == (0, "3.12"), done.stderr


def test_a_pyenv_312_is_found_first(tmp_path):
    assert REAL_312.exists(), REAL_312
    pyenv_bin = tmp_path / "home" / ".pyenv" / "versions" / "3.12.99" / "bin"
    pyenv_bin.mkdir(parents=True)
    (pyenv_bin / "python3.12").symlink_to(REAL_312)
    bin_dir = crafted_bin(tmp_path, python3=other_python())
    done = find_python(tmp_path, bin_dir, UV_PYTHON_DOWNLOADS="never")
    assert (done.returncode, done.stdout.strip()) == (0, str(pyenv_bin / "python3.12"))


def test_a_312_on_path_is_found(tmp_path):
    bin_dir = crafted_bin(tmp_path, python3=str(REAL_312))
    done = find_python(tmp_path, bin_dir, UV_PYTHON_DOWNLOADS="never")
    assert (done.returncode, done.stdout.strip()) == (0, str(bin_dir / "python3"))


def test_make_env_without_312_stops_with_the_one_line_not_a_uv_error(tmp_path):
    """`make env` in a copy of the repository, on a PATH without 3.12, downloads forbidden."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("Makefile", "pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / "tools", repo / "tools")
    uv_bin = repo / ".local" / "tools" / "bin"
    uv_bin.mkdir(parents=True)
    (uv_bin / "uv").symlink_to(ROOT / ".local" / "tools" / "bin" / "uv")
    bin_dir = crafted_bin(tmp_path, python3=other_python())
    done = subprocess.run(
        ["make", "env"],
        cwd=repo,
        env={
            "PATH": str(bin_dir),
            "HOME": str(tmp_path / "home"),
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout + done.stderr
    assert done.returncode != 0, out
    assert "install Python 3.12" in out
    assert "error:" not in out.lower().replace("make: ***", ""), out  # uv's errors say "error:"
    assert not (repo / ".venv").exists()


def test_make_help_lists_every_target():
    makefile = (ROOT / "Makefile").read_text()
    targets = {
        m.group(1)
        for m in re.finditer(r"^([a-z][a-z0-9-]*):(?!=)", makefile, flags=re.M)
        if m.group(1) != "help"
    }
    done = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    listed = set(re.findall(r"make ([a-z][a-z0-9-]*)", done.stdout))
    assert targets, makefile
    assert targets - listed == set(), f"make help does not list {targets - listed}"


def test_the_makefile_leaves_the_users_uv_downloads_setting_alone():
    makefile = (ROOT / "Makefile").read_text()
    assert "UV_PYTHON_DOWNLOADS" not in re.sub(r"#.*", "", makefile)
    env = os.environ | {"UV_PYTHON_DOWNLOADS": "automatic"}
    done = subprocess.run(
        ["make", "-s", "-p", "help"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert "UV_PYTHON_DOWNLOADS = never" not in done.stdout


def test_make_bench_writes_a_new_file_unless_asked():
    def dry_run(*args: str) -> str:
        done = subprocess.run(
            ["make", "-n", "bench", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return next(line for line in done.stdout.splitlines() if "python -m bench" in line)

    assert re.search(r"--results bench/out/RESULTS-\d{8}T\d{6}Z\.md", dry_run())
    assert "--results bench/RESULTS.md" in dry_run("BENCH_OUT=bench/RESULTS.md")
