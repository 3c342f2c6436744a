"""template.yaml, events/ and the handlers agree: every route has events, every event names a
function that exists and a route it serves, every handler path resolves."""

from __future__ import annotations

import ast
import json

import pytest
from insurance_agent.entry import event_kind
from insurance_agent.errors import Forbidden, InsuranceAgentError
from insurance_agent.principal import jwt_context, principal_from_jwt

from devstack.invoke import EVENTS_DIR, MANIFEST, load_manifest, render_event
from devstack.template import functions, load_template

# Files in events/ that are not events: the manifest, and `sam local invoke --env-vars` input.
NOT_EVENTS = {MANIFEST.name, "env.json"}
# Bedrock Agent action-group events (bedrock_*.json) are events like any other: in the
# manifest, with the httpStatusCode of Bedrock's response as their expected outcome.
SPECS = functions()
CASES = load_manifest()


def test_every_event_file_is_in_the_manifest_and_every_entry_has_a_file():
    files = {p.name for p in EVENTS_DIR.glob("*.json")} - NOT_EVENTS
    assert files == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_event_names_an_existing_function_and_a_well_formed_outcome(name):
    case = CASES[name]
    assert case.function in SPECS, f"{name}: no {case.function} in template.yaml"
    assert case.description
    event = render_event(case.path)
    kind = event_kind(event)
    if kind == "direct":
        # A direct invocation returns ("ok") or raises a named error Step Functions catches.
        assert case.expect == "ok" or (isinstance(case.expect, str) and case.expect[0].isupper())
    else:
        assert isinstance(case.expect, int)
        assert 200 <= case.expect < 600
    assert "{{" not in json.dumps(event), "unrendered placeholder"


@pytest.mark.parametrize(
    "name", sorted(n for n, c in CASES.items() if event_kind(render_event(c.path)) == "http")
)
def test_http_events_are_shaped_like_api_gateway_v2_with_jwt_claims(name):
    case = CASES[name]
    event = render_event(case.path)
    routes = {f"{r.method} {r.path}" for r in SPECS[case.function].routes}
    assert event["version"] == "2.0"
    assert event["routeKey"] in routes, f"{name}: {case.function} does not serve it"
    assert event["requestContext"]["routeKey"] == event["routeKey"]
    method, _ = event["routeKey"].split(" ", 1)
    assert event["requestContext"]["http"]["method"] == method
    assert event["rawPath"] == event["requestContext"]["http"]["path"]
    assert all(k == k.lower() for k in event["headers"]), "HTTP API lower-cases header names"
    if case.code == "UNAUTHORIZED":  # a route left without the authorizer: nothing verified
        assert "authorizer" not in event["requestContext"]
        return
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    # API Gateway passes every claim as a string.
    assert all(isinstance(v, str) for v in claims.values())
    assert claims["sub"]
    jwt = event["requestContext"]["authorizer"]["jwt"]
    if case.code == "FORBIDDEN":  # verified, but neither a customer's nor an agent's token
        with pytest.raises(Forbidden):
            principal_from_jwt(jwt)
    else:
        assert principal_from_jwt(jwt).kind in ("customer", "agent")


def test_each_principal_rule_has_an_http_event():
    """Customer (own, another's, widening by header), agent, no claims, token without a role."""
    by_code: dict[tuple[str, str], list[str]] = {}
    for name, case in CASES.items():
        event = render_event(case.path)
        if event_kind(event) != "http":
            continue
        try:
            kind = principal_from_jwt(jwt_context(event)).kind
        except InsuranceAgentError as refused:
            kind = refused.code
        by_code.setdefault((kind, str(case.code or case.expect)), []).append(name)
    assert ("customer", "200") in by_code
    assert ("agent", "200") in by_code
    assert ("agent", "MISSING_HEADER") in by_code
    assert len(by_code[("customer", "POLICY_NOT_FOUND")]) >= 3  # unknown, another's, widened
    assert set(by_code[("UNAUTHORIZED", "UNAUTHORIZED")]) == {"policy_lookup_no_claims.json"}
    assert set(by_code[("FORBIDDEN", "FORBIDDEN")]) == {"policy_lookup_unscoped_token.json"}


# Routes whose success needs rows the audit database holds by then: a triage decision must cite
# audit rows of its customer, which no static event can name. Their success is proven through
# every door in tests/integration/test_usecases.py and by the intake workflow's own decision.
NEEDS_RECORDED_EVIDENCE = {"POST /claims/{claim_id}/decisions"}


def test_every_route_in_the_template_has_an_ok_and_a_refused_http_event():
    for spec in SPECS.values():
        for route in spec.routes:
            key = f"{route.method} {route.path}"
            outcomes = [
                c.expect
                for c in CASES.values()
                if c.function == spec.logical_id and render_event(c.path).get("routeKey") == key
            ]
            if key not in NEEDS_RECORDED_EVIDENCE:
                assert any(isinstance(o, int) and o < 300 for o in outcomes), key
            assert any(isinstance(o, int) and o >= 400 for o in outcomes), key


def test_every_tool_function_has_a_direct_ok_and_a_direct_refusal():
    # The tools serve routes; the MCP interceptor is invoked by AgentCore Gateway only.
    for name in (n for n, spec in SPECS.items() if spec.routes):
        outcomes = [
            c.expect
            for c in CASES.values()
            if c.function == name and event_kind(render_event(c.path)) == "direct"
        ]
        assert "ok" in outcomes, name
        assert any(o != "ok" for o in outcomes), name


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_handler_path_resolves_to_a_module_defining_it(name):
    spec = SPECS[name]
    module, attr = spec.module_and_attr
    source = spec.code_dir / (module.replace(".", "/") + ".py")
    assert source.is_file(), f"{spec.handler}: no {source}"
    tree = ast.parse(source.read_text())
    assigned = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    } | {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert attr in assigned, f"{source} does not define {attr}"


def test_sam_env_vars_only_name_variables_the_template_declares():
    # `sam local invoke --env-vars` silently ignores variables the template does not declare.
    declared = set(load_template()["Globals"]["Function"]["Environment"]["Variables"])
    env_json = json.loads((EVENTS_DIR / "env.json").read_text())
    assert set(env_json["Parameters"]) <= declared
    assert env_json["Parameters"]["DB_IAM_AUTH"] == "false"
    assert {"DATABASE_URL", "FASTAPI_INSURANCE_API_KEY"} <= set(env_json["Parameters"])
