"""`ServerErrors`: one EMF datapoint per error answered >= 500, the one template.yaml alarms on."""

from __future__ import annotations

import json

import pytest
from insurance_agent.observability import count_server_error


def emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_writes_one_datapoint_with_the_function_and_service_dimensions(capsys, status):
    count_server_error(status, "insurance-agent-dev-ClaimCreate-abc")
    (blob,) = emitted(capsys)
    (directive,) = blob["_aws"]["CloudWatchMetrics"]  # type: ignore[index]
    assert directive["Namespace"] == "InsuranceAgentApi"
    assert directive["Metrics"] == [{"Name": "ServerErrors", "Unit": "Count"}]
    assert sorted(directive["Dimensions"][0]) == ["function_name", "service"]
    assert blob["function_name"] == "insurance-agent-dev-ClaimCreate-abc"
    assert blob["service"] == "insurance-agent-api"
    assert blob["ServerErrors"] == [1.0]


@pytest.mark.parametrize("status", [200, 400, 403, 404, 409, 422, 499])
def test_anything_below_500_writes_nothing(capsys, status):
    count_server_error(status, "f")
    assert emitted(capsys) == []
