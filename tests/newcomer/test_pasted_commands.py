"""The commands a newcomer pastes: the ready banner's and README's, run through bash exactly
as printed (only README's port changed to the test stack's), against a running `make run`."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

from devstack.stack import ROOT
from tests.newcomer.conftest import RunningStack


def run_in_shell(command: str, stack: RunningStack) -> str:
    # cwd is the repository, as for a user who pastes into the terminal where `make run` runs:
    # `$(make -s token ...)` needs the Makefile there.
    done = subprocess.run(
        ["/bin/bash", "-c", command],
        cwd=ROOT,
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{command}\nexit {done.returncode}\n{done.stderr}"
    return done.stdout


def banner_commands(output: str) -> list[str]:
    """The commands after `try:`, each with its backslash-newline continuations kept."""
    lines = output.split("try:\n", 1)[1].splitlines()
    commands: list[str] = []
    current = ""
    for line in lines:
        if not line.startswith("  "):
            break
        current += line + "\n"
        if not line.endswith("\\"):
            commands.append(current)
            current = ""
    return commands


def keys_of(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in keys_of(v)}
    if isinstance(node, list):
        return {k for v in node for k in keys_of(v)}
    return set()


def test_the_banner_examples_paste_and_answer(running_stack: RunningStack):
    commands = banner_commands(running_stack.output)
    assert len(commands) == 4, running_stack.output
    lookup, claim, summary, trail = (run_in_shell(c, running_stack) for c in commands)

    policy = json.loads(lookup)
    assert (policy["policy_number"], policy["status"], policy["customer_id"]) == (
        "POL-10001",
        "active",
        "cust-7788",
    )
    filed = json.loads(claim)
    assert filed["status"] == "submitted", filed
    assert filed["amount_claimed"] == {"amount": "1250.00", "currency": "USD"}
    answer = json.loads(summary)
    assert answer["claim"]["claim_id"] == "CLM-000102", answer
    # The trail reads the database this `make run` chose (its stack env), not another.
    assert filed["claim_id"] in trail, trail
    assert "policy_lookup" in trail, trail
    assert "claim_summary" in trail, trail


def test_the_banner_claim_and_readme_claim_use_different_keys(running_stack: RunningStack):
    claim = banner_commands(running_stack.output)[1]
    banner_key = re.search(r"Idempotency-Key: ([^'\"]+)", claim)
    readme = (ROOT / "README.md").read_text()
    readme_key = re.search(r"Idempotency-Key: ([^'\"]+)", readme)
    assert banner_key
    assert readme_key
    assert banner_key.group(1) != readme_key.group(1)


def readme_examples() -> list[tuple[str, str]]:
    """README's (command, answer) pairs under "Example calls and their answers"."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Example calls and their answers", 1)[1].split("\n### ", 1)[0]
    pairs = re.findall(r"```bash\n(.*?)```\n```json\n(.*?)```", section, flags=re.S)
    assert len(pairs) == 3, "README's three example calls, each followed by its answer"
    return pairs


def test_the_readme_examples_paste_and_answer_as_readme_shows(running_stack: RunningStack):
    for command, shown in readme_examples():
        command = command.replace("http://127.0.0.1:3000", running_stack.url)
        assert running_stack.url in command
        answer = json.loads(run_in_shell(command, running_stack))
        assert "error" not in answer, (command, answer)
        shown_keys = set(re.findall(r'"([a-z_]+)":', shown))
        missing = shown_keys - keys_of(answer)
        assert not missing, f"README shows {missing} that the answer lacks: {answer}"
        for key in ("policy_number", "customer_id", "status", "loss_type", "policy_status"):
            value = re.search(rf'"{key}":"([^"]+)"', shown)
            if value and key in answer:
                assert answer[key] == value.group(1), (key, answer)


def test_running_the_readme_claim_twice_replays_it(running_stack: RunningStack):
    command = readme_examples()[1][0].replace("http://127.0.0.1:3000", running_stack.url)
    first = json.loads(run_in_shell(command, running_stack))
    again = json.loads(run_in_shell(command, running_stack))
    assert again["claim_id"] == first["claim_id"]
