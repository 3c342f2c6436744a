"""The official MCP conformance suite (npm @modelcontextprotocol/conformance, run with Node 22 by
tools/conformance.sh) against the local gateway in front of the real functions.

Its client sends no token, so it talks to a loopback proxy that adds a development agent token
(tests/mcp/token_proxy.py); the gateway stays closed to anonymous callers. Every server scenario
the suite lists is either one that applies to a tools-only, stateless server like AgentCore
Gateway's, and must pass, or one named below with why it does not apply and the failure it must
show (so a scenario failing for another reason, or a new one, fails this test). docs/agents.md
keeps the same list.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devstack.dev_identity import agent_identity
from devstack.template import ROOT
from tests.conftest import session_identity
from tests.mcp.token_proxy import token_proxy

SUITE = ROOT / "tools" / "conformance.sh"
APPLICABLE = {"server-initialize", "ping", "tools-list", "dns-rebinding-protection"}
NEEDS_SUITE_TOOLS = (
    "tools-call-simple-text",
    "tools-call-image",
    "tools-call-audio",
    "tools-call-embedded-resource",
    "tools-call-mixed-content",
    "tools-call-error",
    "tools-call-with-progress",
    "tools-call-sampling",
    "tools-call-elicitation",
    "elicitation-sep1034-defaults",
    "elicitation-sep1330-enums",
    "json-schema-2020-12",
)
NEEDS_OTHER_CAPABILITIES = (
    "logging-set-level",
    "tools-call-with-logging",
    "completion-complete",
    "resources-list",
    "resources-read-text",
    "resources-read-binary",
    "resources-templates-read",
    "resources-subscribe",
    "resources-unsubscribe",
    "prompts-list",
    "prompts-get-simple",
    "prompts-get-with-args",
    "prompts-get-embedded-resource",
    "prompts-get-with-image",
)
# Scenario -> (why it does not apply, what its checks must say).
NOT_APPLICABLE: dict[str, tuple[str, str]] = {
    **dict.fromkeys(
        NEEDS_SUITE_TOOLS,
        (
            "calls one of the suite's own test tools, which this server does not have",
            r"Unknown tool: test_|Tool '\w+' not found",
        ),
    ),
    **dict.fromkeys(
        NEEDS_OTHER_CAPABILITIES,
        ("a capability this tools-only server does not declare", r"Method not found"),
    ),
    "server-sse-polling": (
        "resumable SSE streams (SEP-1699) need a session; the gateway is stateless and answers "
        "JSON, as AgentCore Gateway does",
        r"did not provide session ID",
    ),
    "server-sse-multiple-streams": (
        "needs a session (Mcp-Session-Id); the gateway is stateless, as AgentCore Gateway is",
        r"did not provide session ID",
    ),
}


def suite(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    # Installs Node 22 and the suite into .local/conformance on first use.
    return subprocess.run(
        [str(SUITE), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def server_scenarios() -> set[str]:
    listed = suite("list", "--server")
    assert listed.returncode == 0, listed.stderr
    return set(re.findall(r"^\s+- (\S+)", listed.stdout, flags=re.MULTILINE))


def checks_by_scenario(out: Path) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for checks in out.glob("server-*/checks.json"):
        scenario = re.sub(r"^server-|-\d{4}-\d\d-\d\dT.*$", "", checks.parent.name)
        found[scenario] = json.loads(checks.read_text())
    return found


@pytest.fixture(scope="module")
def results(gateway_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("conformance")
    token = session_identity().token(agent_identity("conformance-suite"))
    with token_proxy(gateway_url, token) as url:
        # "all": the pending scenarios too (json-schema-2020-12, server-sse-polling in 0.1.16).
        run = suite("server", "--suite", "all", "--url", url, "-o", str(out))
    return {"run": run, "checks": checks_by_scenario(out), "listed": server_scenarios()}


def test_every_scenario_the_suite_lists_is_classified(results):
    unknown = results["listed"] - APPLICABLE - set(NOT_APPLICABLE)

    assert not unknown, f"new conformance scenarios to run or to classify: {sorted(unknown)}"
    assert results["listed"] >= APPLICABLE


@pytest.mark.parametrize("scenario", sorted(APPLICABLE))
def test_applicable_scenario_passes(results, scenario):
    checks = results["checks"].get(scenario)

    assert checks, f"{scenario} produced no checks.json:\n{results['run'].stdout[-3000:]}"
    failed = [c for c in checks if c["status"] not in ("SUCCESS", "INFO")]
    assert not failed, json.dumps(failed, indent=2)


def test_scenarios_that_do_not_apply_fail_only_for_their_reason(results):
    for scenario, (why, shows) in NOT_APPLICABLE.items():
        checks = results["checks"].get(scenario)
        if checks is None:
            continue  # not in the active suite of this version (the listing test names it)
        said = " ".join(
            f"{c.get('errorMessage') or ''} {(c.get('details') or {}).get('message') or ''}"
            for c in checks
            if c["status"] != "SUCCESS"
        )
        assert re.search(shows, said), f"{scenario} ({why}) failed otherwise: {said[:500]}"
