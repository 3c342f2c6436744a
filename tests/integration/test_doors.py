"""Which door serves an invocation, and what each door makes of envelopes it did not expect."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from devstack.events import ClientContext, LambdaContext, http_api_event, response_body
from tests.conftest import TEST_AGENT_CLAIMS
from tests.integration.conftest import ROUTES, headers_for

DIRECT = ClientContext(custom={"insuranceAgentDoor": "direct"})


def test_the_door_is_chosen_from_the_client_context_before_the_payload():
    from insurance_agent.doors import door_kind

    http = http_api_event("GET", "/policies/POL-10001", route_key=ROUTES["PolicyLookupFunction"])
    assert door_kind(http) == "http"
    assert door_kind(http, LambdaContext(client_context=DIRECT)) == "direct"
    gateway = ClientContext(custom={"bedrockAgentCoreToolName": "policy-lookup___lookup_policy"})
    assert door_kind(http, LambdaContext(client_context=gateway)) == "mcp"
    assert door_kind({"policy_number": "POL-10001"}) == "direct"


def test_a_direct_task_carrying_an_http_envelope_is_refused_by_name_and_audited(
    handlers, fresh_reference, audit_rows, conversation_id
):
    from insurance_agent.errors import ValidationFailed

    event = http_api_event(
        "GET",
        "/policies/POL-20001",
        route_key=ROUTES["PolicyLookupFunction"],
        path_parameters={"policy_number": "POL-20001"},
        headers=headers_for(conversation_id, "cust-9001"),
        jwt_claims=TEST_AGENT_CLAIMS,
    ) | {"conversation_id": conversation_id, "customer_id": "cust-7788"}
    with pytest.raises(ValidationFailed) as refused:
        handlers["PolicyLookupFunction"](
            event, LambdaContext("PolicyLookupFunction", client_context=DIRECT)
        )
    assert "routeKey" in str(refused.value)
    assert "requestContext" in str(refused.value)
    [row] = audit_rows(conversation_id)
    assert (row["channel"], row["outcome"], row["principal"]) == ("direct", "error", "iam-invoke")
    assert row["customer_id"] == "cust-7788"
    assert "requestContext" in row["payload"]["envelope_keys"]


@pytest.mark.parametrize(
    ("raw_path", "stage"),
    [
        ("/dev/policies/POL-10001", "dev"),  # a named stage
        ("/v1/policies/POL-10001", "$default"),  # a custom domain's API mapping key
        ("/insurance/v2/policies/POL-10001", "$default"),  # a two-segment mapping key
    ],
)
def test_stage_and_mapping_key_prefixes_route(handlers, fresh_reference, raw_path, stage):
    event = http_api_event(
        "GET",
        raw_path,
        route_key=ROUTES["PolicyLookupFunction"],
        path_parameters={"policy_number": "POL-10001"},
        headers=headers_for("conv-stage"),
        jwt_claims=TEST_AGENT_CLAIMS,
    )
    event["requestContext"]["stage"] = stage
    response = handlers["PolicyLookupFunction"](event, LambdaContext("PolicyLookupFunction"))
    assert response["statusCode"] == 200, response_body(response)
    assert json.loads(response_body(response))["policy_number"] == "POL-10001"


def rest_api_event() -> dict[str, Any]:
    return {
        "resource": "/policies/{policy_number}",
        "path": "/policies/POL-10001",
        "httpMethod": "GET",
        "headers": {"X-Customer-Id": "cust-7788"},
        "pathParameters": {"policy_number": "POL-10001"},
        "requestContext": {"requestId": "rest-1", "stage": "prod", "httpMethod": "GET"},
        "body": None,
        "isBase64Encoded": False,
    }


def alb_event() -> dict[str, Any]:
    return {
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:tg"}},
        "httpMethod": "GET",
        "path": "/policies/POL-10001",
        "headers": {},
        "body": "",
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize(
    ("event", "source"),
    [(rest_api_event(), "API Gateway REST API"), (alb_event(), "Application Load Balancer")],
    ids=["rest-v1", "alb"],
)
def test_http_sources_not_served_get_a_400_that_names_them(
    handlers, fresh_reference, audit_rows, event, source
):
    context = LambdaContext("PolicyLookupFunction")
    response = handlers["PolicyLookupFunction"](event, context)
    assert response["statusCode"] == 400
    error = json.loads(response["body"])["error"]
    assert error["code"] == "UNSUPPORTED_EVENT_SOURCE"
    assert source in error["message"]
    [row] = audit_rows(request_id=context.aws_request_id)
    assert (row["outcome"], row["error_code"]) == ("error", "UNSUPPORTED_EVENT_SOURCE")


def test_a_queue_event_is_refused_with_an_error_naming_the_source(handlers, fresh_reference):
    from insurance_agent.errors import UnsupportedEventSource

    event = {"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}
    with pytest.raises(UnsupportedEventSource, match="aws:sqs"):
        handlers["PolicyLookupFunction"](event, LambdaContext("PolicyLookupFunction"))


def test_a_request_id_with_control_characters_is_not_recorded(
    handlers, fresh_reference, audit_rows, conversation_id
):
    event = http_api_event(
        "GET",
        "/policies/POL-10001",
        route_key=ROUTES["PolicyLookupFunction"],
        path_parameters={"policy_number": "POL-10001"},
        headers=headers_for(conversation_id),
        jwt_claims=TEST_AGENT_CLAIMS,
        request_id="req\n2026 forged\x1b[2J",
    )
    context = LambdaContext("PolicyLookupFunction")
    response = handlers["PolicyLookupFunction"](event, context)
    assert response["statusCode"] == 200
    [row] = audit_rows(conversation_id)
    assert row["request_id"] == context.aws_request_id


def test_a_cognito_id_token_customer_attribute_is_read_when_configured(
    make_entry, fresh_reference, audit_rows, conversation_id
):
    entry = make_entry("policy_lookup", jwt_customer_id_claim="custom:customer_id")
    claims = {"sub": "cognito-user-1", "custom:customer_id": "cust-7788", "token_use": "id"}
    event = http_api_event(
        "GET",
        "/policies/POL-10001",
        route_key=ROUTES["PolicyLookupFunction"],
        path_parameters={"policy_number": "POL-10001"},
        headers={"X-Conversation-Id": conversation_id},
        jwt_claims=claims,
    )
    response = entry.handler(event, LambdaContext("PolicyLookupFunction"))
    assert response["statusCode"] == 200, response_body(response)
    [row] = audit_rows(conversation_id)
    assert row["principal"] == "customer:cognito-user-1"
    # The default claim name does not read Cognito's attribute: the same token is refused.
    default = make_entry("policy_lookup")
    refused = default.handler(event, LambdaContext("PolicyLookupFunction"))
    assert refused["statusCode"] == 403


def test_a_malformed_claim_name_setting_fails_the_cold_start_naming_it():
    from insurance_agent.errors import ConfigurationError
    from insurance_agent.settings import Settings, load_settings

    assert Settings.model_fields["jwt_customer_id_claim"]
    import os

    saved = os.environ.get("JWT_CUSTOMER_ID_CLAIM")
    os.environ["JWT_CUSTOMER_ID_CLAIM"] = "custom customer id"
    try:
        with pytest.raises(ConfigurationError, match="JWT_CUSTOMER_ID_CLAIM"):
            load_settings()
    finally:
        if saved is None:
            os.environ.pop("JWT_CUSTOMER_ID_CLAIM")
        else:
            os.environ["JWT_CUSTOMER_ID_CLAIM"] = saved


def test_client_context_round_trips_the_invokers_header():
    encoded = base64.b64encode(json.dumps({"custom": {"a": "b"}}).encode()).decode()
    context = ClientContext.from_header(encoded)
    assert context is not None
    assert context.custom == {"a": "b"}


def test_a_catch_all_route_behind_a_named_stage_routes_past_the_stage(handlers, fresh_reference):
    event = http_api_event(
        "GET",
        "/v1/policies/POL-10001",
        route_key="$default",
        path_parameters={"proxy": "policies/POL-10001"},
        headers=headers_for("conv-default-route"),
        jwt_claims=TEST_AGENT_CLAIMS,
    )
    event["requestContext"]["stage"] = "v1"
    response = handlers["PolicyLookupFunction"](event, LambdaContext("PolicyLookupFunction"))
    assert response["statusCode"] == 200, response_body(response)
