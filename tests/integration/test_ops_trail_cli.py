"""`ops trail` as an operator runs it (issue 12 item 6, issue 11 item 10): a real session with
another TimeZone, a missing conversation id, a reader that stops early, and a refused path
whose ESC sequence and a CR must not reach the terminal."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.integration.conftest import headers_for, lookup


def _ops(database_url, *args, env=None, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "ops", *args, "--database-url", database_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ | {"PYTHONPATH": os.getcwd()} | (env or {}),
        **kwargs,
    )


def test_utc_whatever_the_session_time_zone(
    handlers, fresh_reference, database_url, audit_rows, conversation_id
):
    lookup(handlers["PolicyLookupFunction"], "POL-10001", headers_for(conversation_id))
    (row,) = audit_rows(conversation_id)
    expected = row["created_at"].astimezone(__import__("datetime").UTC)

    shown = _ops(
        database_url, "trail", "--conversation", conversation_id, env={"PGTZ": "America/New_York"}
    )

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"{expected:%Y-%m-%d %H:%M:%S.%f}Z")


def test_a_refused_path_with_terminal_escapes_prints_them_escaped(
    handlers, fresh_reference, database_url, conversation_id
):
    evil = "POL-1\x1b[2J\x1b[31mOK\rall fine\u202e"
    lookup(handlers["PolicyLookupFunction"], evil, headers_for(conversation_id))

    text = _ops(database_url, "trail", "--conversation", conversation_id)

    assert text.returncode == 0, text.stderr
    assert "\x1b" not in text.stdout
    assert "\r" not in text.stdout
    assert "\u202e" not in text.stdout
    assert "\\x1b[2J" in text.stdout
    assert len(text.stdout.splitlines()) == 2  # the row and the count


def test_without_a_conversation_it_says_how_and_fails(database_url):
    shown = _ops(database_url, "trail", "--conversation", "")

    assert shown.returncode == 2
    assert "usage:" in shown.stderr
    assert "CONVERSATION=" in shown.stderr
    assert shown.stdout == ""


def test_a_reader_that_stops_early_is_no_error(
    handlers, fresh_reference, database_url, conversation_id
):
    lookup(handlers["PolicyLookupFunction"], "POL-10001", headers_for(conversation_id))
    # `head -n 0` exits at once, long before ops has connected: every write meets a closed
    # pipe, whatever the pipe buffer's size (`| head` on a long trail, made certain).
    command = (
        f"{sys.executable} -m ops trail --conversation {conversation_id} --json "
        f"--database-url '{database_url}' | head -n 0"
    )

    shown = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ | {"PYTHONPATH": os.getcwd()},
    )

    assert "BrokenPipeError" not in shown.stderr
    assert "Traceback" not in shown.stderr
    assert shown.returncode == 0
