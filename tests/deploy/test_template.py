"""template.yaml as AWS will read it: linted, scanned, and holding the production properties."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from devstack.template import ROOT, TEMPLATE, functions, load_template
from tests.deploy.conftest import CFN_LINT, CHECKOV, REGION, SAM, run_tool, tool


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def tool_functions(template: dict[str, Any]) -> list[str]:
    """The functions agents call (each serves a route); not the MCP interceptor."""
    return [name for name, spec in functions(template).items() if spec.routes]


def test_sam_validate_runs_the_full_transform_cleanly():
    """What `sam deploy` runs (SAM's transform), offline; `--lint` alone skips it."""
    done = run_tool(tool(SAM), "validate", "--template-file", TEMPLATE, "--region", REGION)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is a valid SAM Template" in done.stdout + done.stderr


SCOPES_AS_LITERAL_LIST = (
    "AuthorizationScopes:\n"
    "                - !If [HasAgentScope, !Ref AgentAuthorizationScope, !Ref AWS::NoValue]"
)


def test_sam_validate_fails_on_what_only_the_transform_refuses(tmp_path):
    """The check above can fail: an intrinsic where SAM wants a literal list (issue 10.1)."""
    assert SCOPES_AS_LITERAL_LIST in TEMPLATE.read_text()
    broken = tmp_path / "template.yaml"
    broken.write_text(
        TEMPLATE.read_text().replace(
            SCOPES_AS_LITERAL_LIST,
            "AuthorizationScopes: !If [HasAgentScope, [!Ref AgentAuthorizationScope], "
            "!Ref AWS::NoValue]",
        )
    )
    done = run_tool(tool(SAM), "validate", "--template-file", broken, "--region", REGION)
    assert done.returncode != 0
    assert "'AuthorizationScopes' must be a list of strings" in done.stdout + done.stderr


def test_sam_validate_lint_is_clean():
    done = run_tool(
        tool(SAM), "validate", "--lint", "--template-file", TEMPLATE, "--region", REGION
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is a valid SAM Template" in done.stdout + done.stderr


def cfn_lint(path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return run_tool(
        tool(CFN_LINT), *options, "--regions", REGION, "--format", "parseable", "--", path
    )


def test_cfn_lint_with_informational_rules_finds_nothing():
    """The locked cfn-lint, informational rules included (I3011 deletion policies, ...). No
    rule is ignored anywhere: a finding would be printed here."""
    done = cfn_lint(TEMPLATE, "--include-checks", "I")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""
    assert "cfn-lint" not in json.dumps(load_template().get("Metadata", {}))


def test_cfn_lint_reports_informational_findings_and_knows_the_agentcore_resources(tmp_path):
    """The run above can fail: without a deletion policy I3011 is reported, and a property
    AgentCore's schema lacks is an error (cfn-lint's spec holds the Gateway resources)."""
    text = TEMPLATE.read_text()
    broken = tmp_path / "template.yaml"
    broken.write_text(
        text.replace(
            "            PassRequestHeaders: true\n",
            "            PassRequestHeaders: true\n            PassEverything: true\n",
        ).replace("    DeletionPolicy: RetainExceptOnCreate\n", "", 1)
    )
    done = cfn_lint(broken, "--include-checks", "I")
    assert done.returncode != 0
    assert "E3002" in done.stdout
    assert "PassEverything" in done.stdout
    assert "I3011" in done.stdout


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
    for name in tool_functions(template):
        events = template["Resources"][name]["Properties"]["Events"]
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
    for name in tool_functions(template):
        for event in template["Resources"][name]["Properties"]["Events"].values():
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


def test_function_policies_name_each_resource_and_connect_as_the_app_user_only(template):
    policies = resources_of(template, "AWS::IAM::ManagedPolicy")
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Resource"] != "*"
            assert "*" not in json.dumps(statement["Action"])
    statements = policies["FunctionAccessPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    by_action = {s["Action"]: s["Resource"] for s in statements}
    assert by_action["secretsmanager:GetSecretValue"] == [
        {"Ref": "UpstreamApiKeySecret"},
        {"Ref": "McpCallerKeySecret"},
    ]
    arn, values = by_action["rds-db:connect"]["Fn::Sub"]
    assert arn.endswith(":dbuser:${ProxyId}/${DatabaseUser}")
    assert values["ProxyId"]["Fn::Select"][1]["Fn::Split"][1] == {
        "Fn::GetAtt": ["DbProxy", "DBProxyArn"]
    }
    for name in tool_functions(template):
        assert template["Resources"][name]["Properties"]["Policies"] == [
            {"Ref": "FunctionAccessPolicy"}
        ]
    interceptor = policies["McpInterceptorAccessPolicy"]["Properties"]["PolicyDocument"]
    assert {s["Action"]: s["Resource"] for s in interceptor["Statement"]} == {
        "secretsmanager:GetSecretValue": {"Ref": "McpCallerKeySecret"},
        "kms:Decrypt": {"Fn::GetAtt": ["AppKey", "Arn"]},
    }
    assert template["Resources"]["McpInterceptorFunction"]["Properties"]["Policies"] == [
        {"Ref": "McpInterceptorAccessPolicy"}
    ]


def alarms_on(template: dict[str, Any], namespace: str, metric: str) -> list[dict[str, Any]]:
    return [
        a["Properties"]
        for a in resources_of(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["Namespace"] == namespace and a["Properties"]["MetricName"] == metric
    ]


def test_every_tool_function_has_server_error_throttle_and_p99_alarms_and_no_errors_alarm(
    template,
):
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    server_errors = alarms_on(template, env["POWERTOOLS_METRICS_NAMESPACE"], "ServerErrors")
    # The dimensions the layer writes (observability.count_server_error): Powertools' service
    # and the function's name, which is what `!Ref` of the function gives.
    watched = set()
    for alarm in server_errors:
        dims = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
        assert set(dims) == {"service", "function_name"}
        assert dims["service"] == env["POWERTOOLS_SERVICE_NAME"]
        watched.add(dims["function_name"]["Ref"])
        assert alarm["Threshold"] == {"Ref": "ServerErrorsAlarmThreshold"}
    assert watched == set(tool_functions(template))
    for name in tool_functions(template):
        for metric in ("Throttles", "Duration"):
            assert any(
                a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": name}}]
                for a in alarms_on(template, "AWS/Lambda", metric)
            ), (name, metric)
    # Lambda's Errors counts every business refusal the direct door raises: no alarm on it for
    # a tool function (a scheduled function's Errors is a failed run, and is alarmed).
    errors_on = {
        d["Value"]["Ref"]
        for a in alarms_on(template, "AWS/Lambda", "Errors")
        for d in a["Dimensions"]
        if d["Name"] == "FunctionName"
    }
    assert errors_on.isdisjoint(tool_functions(template))
    durations = alarms_on(template, "AWS/Lambda", "Duration")
    assert all(a["ExtendedStatistic"] == "p99" for a in durations)


def test_api_state_machine_and_proxy_have_the_alarms_that_see_outages(template):
    (api_5xx,) = alarms_on(template, "AWS/ApiGateway", "5xx")
    assert api_5xx["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": "HttpApi"}}]
    machine = [{"Name": "StateMachineArn", "Value": {"Ref": "ClaimIntakeStateMachine"}}]
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut"):
        (alarm,) = alarms_on(template, "AWS/States", metric)
        assert alarm["Dimensions"] == machine
    proxy = [{"Name": "ProxyName", "Value": {"Ref": "DbProxy"}}]
    for metric in ("DatabaseConnectionsCurrentlySessionPinned", "DatabaseConnectionsBorrowLatency"):
        (alarm,) = alarms_on(template, "AWS/RDS", metric)
        assert alarm["Dimensions"] == proxy
    for alarm in resources_of(template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"]["Fn::If"][0] == "HasAlarmTopic"


def test_what_holds_keys_secrets_and_logs_survives_stack_deletion_and_replacement(template):
    kinds = ("AWS::KMS::Key", "AWS::SecretsManager::Secret", "AWS::Logs::LogGroup")
    stateful = {k: v for k, v in template["Resources"].items() if v["Type"] in kinds}
    assert len(stateful) >= 10
    for logical_id, resource in stateful.items():
        assert resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate"), logical_id
        assert resource.get("UpdateReplacePolicy") == "Retain", logical_id


def test_state_machine_logs_without_execution_data_traces_and_invokes_the_live_aliases(
    template,
):
    props = template["Resources"]["ClaimIntakeStateMachine"]["Properties"]
    assert props["Tracing"] == {"Enabled": True}
    logging = props["Logging"]
    assert logging["IncludeExecutionData"] is False
    (destination,) = logging["Destinations"]
    log_group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert template["Resources"][log_group]["Type"] == "AWS::Logs::LogGroup"
    assert sorted(v["Ref"] for v in props["DefinitionSubstitutions"].values()) == sorted(
        f"{name}.Alias" for name in tool_functions(template)
    )
    assert template["Globals"]["Function"]["AutoPublishAlias"] == "live"


def test_outputs_name_the_api_the_live_aliases_the_gateway_and_the_layer(template):
    outputs = template["Outputs"]
    assert {"ApiUrl", "CommonLayerArn", "McpGatewayUrl"} <= set(outputs)
    for name in functions(template):
        assert outputs[f"{name}Arn"]["Value"] == {"Ref": f"{name}.Alias"}


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


TOOLS = {  # target -> (function, tool, the direct task model its arguments are)
    "policy-lookup": ("PolicyLookupFunction", "lookup_policy", "PolicyLookupTask"),
    "claim-create": ("ClaimCreateFunction", "file_claim", "ClaimCreateTask"),
    "claim-summary": ("ClaimSummaryFunction", "get_claim_summary", "ClaimSummaryTask"),
}


def test_agentcore_gateway_checks_the_api_tokens_and_runs_the_interceptor_both_ways(template):
    (gateway,) = resources_of(template, "AWS::BedrockAgentCore::Gateway").values()
    props = gateway["Properties"]
    assert props["ProtocolType"] == "MCP"
    assert props["AuthorizerType"] == "CUSTOM_JWT"
    jwt = props["AuthorizerConfiguration"]["CustomJWTAuthorizer"]
    assert jwt["DiscoveryUrl"] == {"Fn::Sub": "${JwtIssuer}/.well-known/openid-configuration"}
    assert jwt["AllowedAudience"] == {"Ref": "JwtAudience"}
    (interceptor,) = props["InterceptorConfigurations"]
    assert interceptor["Interceptor"]["Lambda"]["Arn"] == {"Ref": "McpInterceptorFunction.Alias"}
    assert sorted(interceptor["InterceptionPoints"]) == ["REQUEST", "RESPONSE"]
    assert interceptor["InputConfiguration"]["PassRequestHeaders"] is True
    interceptor_fn = template["Resources"]["McpInterceptorFunction"]["Properties"]
    assert (interceptor_fn["CodeUri"], interceptor_fn["Handler"]) == (
        "functions/mcp_interceptor/",
        "app.handler",
    )
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["MCP_CALLER_KEY_SECRET"] == {"Ref": "McpCallerKeySecret"}


def test_gateway_role_invokes_the_live_aliases_of_the_tools_and_interceptor_only(template):
    (gateway,) = resources_of(template, "AWS::BedrockAgentCore::Gateway").values()
    role = template["Resources"][gateway["Properties"]["RoleArn"]["Fn::GetAtt"][0]]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "bedrock-agentcore.amazonaws.com"}
    statements = [
        s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]
    ]
    assert [s["Action"] for s in statements] == ["lambda:InvokeFunction"]
    expected = [f"{fn}.Alias" for fn, _, _ in TOOLS.values()] + ["McpInterceptorFunction.Alias"]
    assert sorted(r["Ref"] for r in statements[0]["Resource"]) == sorted(expected)


def test_each_gateway_target_is_a_live_alias_with_the_direct_task_as_its_tool_schema(template):
    from insurance_agent import catalog, models

    targets = resources_of(template, "AWS::BedrockAgentCore::GatewayTarget").values()
    assert sorted(t["Properties"]["Name"] for t in targets) == sorted(TOOLS)
    for target in targets:
        props = target["Properties"]
        function, tool_name, model_name = TOOLS[props["Name"]]
        assert props["GatewayIdentifier"] == {"Fn::GetAtt": ["McpGateway", "GatewayIdentifier"]}
        assert props["CredentialProviderConfigurations"] == [
            {"CredentialProviderType": "GATEWAY_IAM_ROLE"}
        ]
        lambda_target = props["TargetConfiguration"]["Mcp"]["Lambda"]
        assert lambda_target["LambdaArn"] == {"Ref": f"{function}.Alias"}
        payload = lambda_target["ToolSchema"]["InlinePayload"]
        # The function's own tool first, then its other operations' (issue 13).
        assert payload[0]["Name"] == tool_name
        assert payload[0]["InputSchema"]["Properties"].keys() == (
            getattr(models, model_name).model_json_schema()["properties"].keys()
        )
        for listed in payload:
            operation = next(o for o in catalog.OPERATIONS.values() if o.tool == listed["Name"])
            assert catalog.function_of(operation) == function, listed["Name"]
            schema = operation.task_model.model_json_schema()
            published = listed["InputSchema"]
            # The task's fields, one flat object; never the interceptor's reserved key.
            assert "caller_assertion" not in published["Properties"]
            assert set(published["Properties"]) == set(schema["properties"]) - {"caller_assertion"}
            assert set(published["Required"]) == set(schema["required"]) - {"caller_assertion"}
            for name, field in published["Properties"].items():
                assert field["Description"], (listed["Name"], name)
