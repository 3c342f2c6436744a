"""The ops command prints a conversation's trail and a customer's history."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.integration.conftest import headers_for, lookup


def _ops(database_url, *args):
    return subprocess.run(
        [sys.executable, "-m", "ops", *args, "--database-url", database_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ | {"PYTHONPATH": os.getcwd()},
    )


def test_trail_as_text_and_json_lines(handlers, fresh_reference, database_url, conversation_id):
    lookup(handlers["PolicyLookupFunction"], "POL-10001", headers_for(conversation_id))
    lookup(handlers["PolicyLookupFunction"], "POL-99999", headers_for(conversation_id))

    text = _ops(database_url, "trail", "--conversation", conversation_id)
    lines = _ops(database_url, "trail", "--conversation", conversation_id, "--json")

    assert text.returncode == 0, text.stderr
    assert "policy_lookup ok" in text.stdout
    assert "POLICY_NOT_FOUND" in text.stdout
    assert "(2 interactions)" in text.stdout
    rows = [json.loads(line) for line in lines.stdout.splitlines()]
    assert [r["outcome"] for r in rows] == ["ok", "error"]
    assert all(r["conversation_id"] == conversation_id for r in rows)


def test_customer_history(handlers, fresh_reference, database_url, conversation_id):
    lookup(handlers["PolicyLookupFunction"], "POL-20001", headers_for(conversation_id, "cust-9001"))

    result = _ops(database_url, "history", "--customer", "cust-9001", "--json")

    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows
    assert {r["customer_id"] for r in rows} == {"cust-9001"}
    assert conversation_id in {r["conversation_id"] for r in rows}
