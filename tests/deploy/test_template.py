"""template.yaml as AWS will read it: linted, scanned, and holding the production properties."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest

from devstack.template import ROOT, TEMPLATE, functions, load_template
from tests.deploy.conftest import CHECKOV, REGION, SAM, run_tool, tool


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_sam_validate_lint_is_clean():
    done = run_tool(
        tool(SAM), "validate", "--lint", "--template-file", TEMPLATE, "--region", REGION
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is a valid SAM Template" in done.stdout + done.stderr


def test_checkov_finds_nothing_and_every_suppression_says_why(template):
    done = run_tool(
        *(tool(CHECKOV), "-f", TEMPLATE, "--framework", "cloudformation"),
        *("--skip-download", "--output", "json"),
    )
    report = json.loads(done.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 30  # it really scanned the resources
    assert report["summary"]["parsing_errors"] == 0
    declared = set()
    for logical_id, resource in template["Resources"].items():
        for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip", []):
            assert len(skip.get("comment", "")) > 20, f"{logical_id} skips {skip['id']} unexplained"
            declared.add((skip["id"], logical_id))
    applied = {
        (c["check_id"], c["resource"].split(".")[-1]) for c in report["results"]["skipped_checks"]
    }
    assert applied == declared  # no stale suppression, none from anywhere but the template


def test_functions_are_arm64_by_default_and_the_layer_builds_for_the_same_architecture(template):
    assert template["Parameters"]["Architecture"]["Default"] == "arm64"
    assert template["Globals"]["Function"]["Architectures"] == [{"Ref": "Architecture"}]
    (layer,) = resources_of(template, "AWS::Serverless::LayerVersion").values()
    assert layer["Metadata"]["BuildArchitecture"] == {"Ref": "Architecture"}
    assert layer["Properties"]["CompatibleArchitectures"] == [{"Ref": "Architecture"}]
    runtime = template["Globals"]["Function"]["Runtime"]
    assert layer["Metadata"]["BuildMethod"] == runtime
    assert layer["Properties"]["CompatibleRuntimes"] == [runtime]


def test_function_timeout_is_below_the_api_integration_timeout(template):
    timeout_ms = template["Globals"]["Function"]["Timeout"] * 1000
    for spec in functions(template).values():
        events = template["Resources"][spec.logical_id]["Properties"]["Events"]
        for event in events.values():
            assert timeout_ms < event["Properties"]["TimeoutInMillis"] <= 30_000


def test_http_api_requires_a_jwt_on_every_route_without_cors_and_with_logs_and_throttling(
    template,
):
    (api,) = resources_of(template, "AWS::Serverless::HttpApi").values()
    props = api["Properties"]
    auth = props["Auth"]
    jwt = auth["Authorizers"][auth["DefaultAuthorizer"]]["JwtConfiguration"]
    assert jwt == {"issuer": {"Ref": "JwtIssuer"}, "audience": {"Ref": "JwtAudience"}}
    assert "CorsConfiguration" not in props
    assert "DestinationArn" in props["AccessLogSettings"]
    assert "$context.requestId" in props["AccessLogSettings"]["Format"]
    assert set(props["DefaultRouteSettings"]) >= {"ThrottlingRateLimit", "ThrottlingBurstLimit"}
    # A named stage prefixes rawPath with it (/dev/policies/...), and no route would match.
    assert props.get("StageName", "$default") == "$default"
    for spec in functions(template).values():
        for event in template["Resources"][spec.logical_id]["Properties"]["Events"].values():
            route_auth = event["Properties"].get("Auth", {})
            assert route_auth.get("Authorizer", auth["DefaultAuthorizer"]) == "JwtAuthorizer"
            assert route_auth.get("Authorizer") != "NONE"


def test_functions_use_iam_auth_through_the_proxy_and_no_database_url_reaches_aws(template):
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["DB_IAM_AUTH"] == "true"
    assert env["DB_HOST"] == {"Fn::GetAtt": ["DbProxy", "Endpoint"]}
    assert env["DB_USER"] == {"Ref": "DatabaseUser"}
    assert env["DB_SSLMODE"] in ("require", "verify-full")
    # Declared for `sam local invoke --env-vars` only; AWS::NoValue removes them on deploy.
    assert env["DATABASE_URL"] == {"Ref": "AWS::NoValue"}
    assert env["FASTAPI_INSURANCE_API_KEY"] == {"Ref": "AWS::NoValue"}
    assert env["FASTAPI_INSURANCE_API_KEY_SECRET"] == {"Ref": "UpstreamApiKeySecret"}
    (proxy,) = resources_of(template, "AWS::RDS::DBProxy").values()
    assert proxy["Properties"]["RequireTLS"] is True
    assert proxy["Properties"]["EngineFamily"] == "POSTGRESQL"
    assert [a["IAMAuth"] for a in proxy["Properties"]["Auth"]] == ["REQUIRED"]
    assert resources_of(template, "AWS::RDS::DBProxyTargetGroup")


def test_function_policy_names_each_resource_and_connects_as_the_app_user_only(template):
    (policy,) = resources_of(template, "AWS::IAM::ManagedPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    for statement in statements:
        assert statement["Resource"] != "*"
        assert "*" not in json.dumps(statement["Action"])
    by_action = {s["Action"]: s["Resource"] for s in statements}
    assert by_action["secretsmanager:GetSecretValue"] == {"Ref": "UpstreamApiKeySecret"}
    arn, values = by_action["rds-db:connect"]["Fn::Sub"]
    assert arn.endswith(":dbuser:${ProxyId}/${DatabaseUser}")
    assert values["ProxyId"]["Fn::Select"][1]["Fn::Split"][1] == {
        "Fn::GetAtt": ["DbProxy", "DBProxyArn"]
    }
    for spec in functions(template).values():
        props = template["Resources"][spec.logical_id]["Properties"]
        assert props["Policies"] == [{"Ref": "FunctionAccessPolicy"}]


def test_every_function_has_error_throttle_and_p99_duration_alarms(template):
    alarms = resources_of(template, "AWS::CloudWatch::Alarm").values()
    watched = {
        (a["Properties"]["Dimensions"][0]["Value"]["Ref"], a["Properties"]["MetricName"])
        for a in alarms
    }
    for name in functions(template):
        assert {(name, "Errors"), (name, "Throttles"), (name, "Duration")} <= watched
    durations = [a for a in alarms if a["Properties"]["MetricName"] == "Duration"]
    assert all(a["Properties"]["ExtendedStatistic"] == "p99" for a in durations)


def test_outputs_name_the_api_the_functions_and_the_layer(template):
    outputs = template["Outputs"]
    assert "ApiUrl" in outputs
    assert "CommonLayerArn" in outputs
    for name in functions(template):
        assert outputs[f"{name}Arn"]["Value"] == {"Fn::GetAtt": [name, "Arn"]}


def test_samconfig_environments_set_every_required_parameter_and_prod_confirms():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    parameters = load_template()["Parameters"]
    required = {name for name, p in parameters.items() if "Default" not in p}
    for env in ("dev", "prod"):
        deploy = config[env]["deploy"]["parameters"]
        given = dict(item.split("=", 1) for item in deploy["parameter_overrides"])
        assert set(given) <= set(parameters), f"{env}: unknown parameters"
        assert required <= set(given), f"{env}: missing {required - set(given)}"
        assert given["Stage"] == env
        assert deploy["stack_name"].endswith(env)
    assert config["prod"]["deploy"]["parameters"]["confirm_changeset"] is True
