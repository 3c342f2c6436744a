"""The principal a verified token stands for, and whom it may act for."""

from __future__ import annotations

import pytest
from insurance_agent.errors import Forbidden, Unauthorized
from insurance_agent.principal import (
    AGENT_SCOPE,
    IAM_INVOKE,
    Principal,
    jwt_context,
    principal_from_jwt,
    refused_principal,
    scopes_of,
)


def jwt(claims: dict[str, str] | None, scopes: list[str] | None = None) -> dict[str, object]:
    return {"claims": claims, "scopes": scopes}


def test_a_customer_id_claim_makes_a_customer_confined_to_it():
    principal = principal_from_jwt(
        jwt({"sub": "u-7788", "customer_id": "cust-7788", "scope": "openid insurance/customer"})
    )

    assert principal == Principal("customer", "customer:u-7788", "cust-7788")
    assert principal.may_act_for("cust-7788")
    assert principal.may_act_for(None)
    assert not principal.may_act_for("cust-9001")
    assert not principal.names_its_caller_ids


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"sub": "svc-1", "scope": "openid insurance/agent"}, None),  # the scope claim
        ({"sub": "svc-1"}, ["openid", AGENT_SCOPE]),  # the authorizer's scopes list
        ({"sub": "svc-1", "scp": "[openid insurance/agent]"}, None),  # scp array, stringified
    ],
)
def test_the_agent_scope_makes_an_agent_who_acts_for_anyone_and_names_its_ids(claims, scopes):
    principal = principal_from_jwt(jwt(claims, scopes))

    assert principal == Principal("agent", "agent:svc-1")
    assert principal.may_act_for("cust-9001")
    assert principal.names_its_caller_ids


def test_a_token_with_both_is_read_as_the_narrower_customer():
    principal = principal_from_jwt(
        jwt({"sub": "u-1", "customer_id": "cust-7788", "scope": AGENT_SCOPE}, [AGENT_SCOPE])
    )

    assert principal.kind == "customer"
    assert not principal.may_act_for("cust-9001")


def test_client_credentials_tokens_are_named_by_client_id():
    principal = principal_from_jwt(jwt({"client_id": "7f3kq2", "scope": AGENT_SCOPE}))

    assert principal.name == "agent:7f3kq2"


@pytest.mark.parametrize("value", [None, {}, {"claims": None}, {"claims": {}}, "claims"])
def test_no_claims_is_unauthorized(value):
    with pytest.raises(Unauthorized):
        principal_from_jwt(value)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "u-1", "scope": "openid profile"},  # neither a customer nor an agent
        {"sub": "u-1", "customer_id": "7788"},  # not a customer id
        {"sub": "u-1", "customer_id": "cust-7788 OR 1=1"},
        {"customer_id": "cust-7788"},  # no subject
        {"sub": "agent:x\nforged", "scope": AGENT_SCOPE},  # a subject that would spoof the trail
        {"sub": "a b", "scope": AGENT_SCOPE},
    ],
)
def test_claims_that_name_no_role_or_a_malformed_one_are_forbidden(claims):
    with pytest.raises(Forbidden):
        principal_from_jwt(jwt(claims))


def test_a_refusal_is_audited_with_whoever_the_token_names():
    assert refused_principal(None) is None
    assert refused_principal(jwt({"sub": "u-1", "scope": "openid"})).name == "unscoped:u-1"
    assert refused_principal(jwt({"scope": "openid"})).name == "unscoped:?"
    customer = jwt({"sub": "u-1", "customer_id": "cust-7788"})
    assert refused_principal(customer) == principal_from_jwt(customer)


def test_the_iam_trusted_callers_keep_their_audit_names():
    assert IAM_INVOKE.name == "iam-invoke"
    assert Principal.bedrock_agent("AGENT1", "ALIAS1").name == "bedrock-agent:AGENT1/ALIAS1"
    assert IAM_INVOKE.may_act_for("cust-9001")


def test_jwt_context_reads_only_the_request_context_never_headers():
    event = {
        "headers": {"authorization": "Bearer x", "x-customer-id": "cust-9001"},
        "requestContext": {"authorizer": {"jwt": {"claims": {"sub": "a"}, "scopes": None}}},
    }

    assert jwt_context(event) == {"claims": {"sub": "a"}, "scopes": None}
    assert jwt_context({"headers": event["headers"]}) is None
    assert jwt_context({"requestContext": {"authorizer": "x"}}) is None


def test_scopes_come_from_the_list_and_both_claims():
    context = jwt({"scope": "a b", "scp": "[c d]"}, ["e"])

    assert scopes_of(context) == {"a", "b", "c", "d", "e"}
