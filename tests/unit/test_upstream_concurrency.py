"""``policy_with_claims``: the policy and its claims in flight together, each request keeping
its own retries and error mapping (httpx MockTransport; the real upstream in the integration
tests of the claim summary)."""

from __future__ import annotations

import threading

import httpx
import pytest
from insurance_agent.errors import PolicyNotFound, UpstreamUnavailable

from tests.unit.test_domain import claim, policy
from tests.unit.test_upstream_client import client_for

POLICY = policy().model_dump(mode="json")
CLAIMS = [claim("CLM-000101", "submitted", "100.00").model_dump(mode="json")]


def test_both_requests_are_in_flight_at_once():
    # Each request waits until the other has arrived: run one after the other, they never would.
    both_arrived = threading.Barrier(2, timeout=5)

    def handler(request: httpx.Request) -> httpx.Response:
        both_arrived.wait()
        if request.url.path.endswith("/claims"):
            return httpx.Response(200, json=CLAIMS)
        return httpx.Response(200, json=POLICY)

    client = client_for(handler)
    try:
        got_policy, got_claims = client.policy_with_claims("POL-10001")
    finally:
        client.close()

    assert got_policy.policy_number == "POL-10001"
    assert [c.claim_id for c in got_claims] == ["CLM-000101"]


def test_the_policy_failure_wins_and_the_claims_request_has_ended():
    finished: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/claims"):
            finished.append("claims")
            return httpx.Response(503, json={})
        return httpx.Response(404, json={"detail": "no such policy"})

    client = client_for(handler)
    try:
        with pytest.raises(PolicyNotFound):
            client.policy_with_claims("POL-99999")
        # Waited for (its retries included) before the call returned.
        assert finished == ["claims"] * 3
    finally:
        client.close()


def test_a_claims_failure_is_mapped_and_retried_like_list_claims():
    calls = {"claims": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/claims"):
            calls["claims"] += 1
            if calls["claims"] < 3:
                return httpx.Response(502, json={})
            return httpx.Response(500, json={})
        return httpx.Response(200, json=POLICY)

    client = client_for(handler)
    try:
        with pytest.raises(UpstreamUnavailable):
            client.policy_with_claims("POL-10001")
    finally:
        client.close()
    assert calls["claims"] == 3


def test_close_ends_the_worker_thread():
    client = client_for(
        lambda request: httpx.Response(200, json=CLAIMS if "claims" in str(request.url) else POLICY)
    )
    client.policy_with_claims("POL-10001")
    # This client's own worker (other tests' clients may have theirs running).
    workers = [t for t in threading.enumerate() if t.name.startswith("upstream")]
    mine = set(client._worker._threads) if client._worker is not None else set()

    client.close()

    assert mine
    assert mine <= set(workers)
    assert not any(t.is_alive() for t in mine)
