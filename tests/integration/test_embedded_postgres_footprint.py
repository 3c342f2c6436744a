"""The embedded Postgres run as root changes nothing outside folders it creates (issue 11,
item 14): no OS user added, no existing folder's mode widened -- measured before and after
(getent passwd, the mode of every parent folder), for a clone inside a 0700 home and one in an
open folder, and for the throwaway clusters the tests start."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devstack import postgres
from devstack.private_postgres import SERVICE_USER, private_cluster, server_bin_dir

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="the root-only path: pgserver as a normal user adds no user"
)


def _passwd() -> list[str]:
    return subprocess.run(
        ["getent", "passwd"], capture_output=True, text=True, check=True
    ).stdout.splitlines()


def _modes(path: Path) -> dict[str, int]:
    """The mode of ``path`` and of every folder above it."""
    found = {}
    for folder in [path, *path.parents]:
        found[str(folder)] = stat.S_IMODE(folder.stat().st_mode)
    return found


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A 0700 home with a clone in it, like /root or a user's home."""
    home = tmp_path / "home"
    (home / "clone").mkdir(parents=True)
    home.chmod(0o700)
    yield home
    home.chmod(0o755)


def _start_and_stop(monkeypatch, project_root: Path) -> Path:
    monkeypatch.setattr(postgres, "ROOT", project_root)
    found = postgres.find_postgres(("embedded",))
    try:
        with psycopg.connect(found.url, connect_timeout=5) as conn:
            data_dir = Path(conn.execute("SHOW data_directory").fetchone()[0])
        # A second finder (ops while `make run` serves) reuses the running server.
        again = postgres.find_postgres(("embedded",))
        assert (again.url, again.handle) == (found.url, None)
    finally:
        found.stop()
    return data_dir


def test_a_clone_in_a_private_home_keeps_the_home_private(home, monkeypatch):
    server_bin_dir()  # the distribution's binaries must be there (scripts install them)
    clone = home / "clone"
    users, modes = _passwd(), _modes(clone)

    data_dir = _start_and_stop(monkeypatch, clone)

    try:
        assert _passwd() == users  # no OS user added
        assert _modes(clone) == modes  # the 0700 home is still 0700, nothing above it widened
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        # The data went where the server's user may go, in a folder made for it alone.
        base = data_dir.parent
        assert not base.is_relative_to(home)
        assert stat.S_IMODE(base.stat().st_mode) == 0o700
        assert base.owner() == SERVICE_USER
    finally:
        shutil.rmtree(data_dir.parent, ignore_errors=True)


def test_a_clone_in_an_open_folder_keeps_its_data_in_the_clone(monkeypatch):
    # Not pytest's tmp_path: its root folder is 0700.
    folder = Path(tempfile.mkdtemp(prefix="ia-open-"))
    folder.chmod(0o755)
    clone = folder / "clone"
    clone.mkdir()
    users, modes = _passwd(), _modes(clone)
    try:
        data_dir = _start_and_stop(monkeypatch, clone)

        assert _passwd() == users
        assert _modes(clone) == modes
        assert data_dir.is_relative_to(clone / ".local")
        assert stat.S_IMODE(data_dir.parent.stat().st_mode) == 0o700
        assert data_dir.parent.owner() == SERVICE_USER
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_tests_throwaway_clusters_change_nothing_either():
    users, modes = _passwd(), _modes(Path(tempfile.gettempdir()))

    with private_cluster() as cluster, psycopg.connect(cluster.url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)

    assert _passwd() == users
    assert _modes(Path(tempfile.gettempdir())) == modes
