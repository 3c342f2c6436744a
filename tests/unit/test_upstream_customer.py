"""The customer-profile read: typed, retried like the policy reads, errors mapped the same way
(httpx MockTransport; against the real reference service in tests/integration/test_usecases.py)."""

from __future__ import annotations

import httpx
import pytest
from insurance_agent.errors import CustomerNotFound, UpstreamBadResponse, UpstreamUnavailable

from tests.unit.test_upstream_client import client_for

PROFILE = {
    "customer_id": "cust-5150",
    "full_name": "Lucía Ortega",
    "email": "lucia.ortega@example.com",
    "national_id": "555-12-3456",
    "preferred_contact_channel": "phone",
    "preferred_language": "es",
    "policies": ["POL-30001", "POL-30002"],
}


def test_a_profile_is_typed_and_keeps_nothing_it_does_not_need():
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=PROFILE)

    customer = client_for(handler).get_customer("cust-5150")
    assert seen == ["/v1/customers/cust-5150"]
    assert customer.policies == ["POL-30001", "POL-30002"]
    assert "national_id" not in customer.model_dump()
    assert "email" not in customer.model_dump()


def test_a_read_is_retried_through_a_busy_upstream():
    answers = iter([httpx.Response(503), httpx.Response(502), httpx.Response(200, json=PROFILE)])
    customer = client_for(lambda request: next(answers)).get_customer("cust-5150")
    assert customer.full_name == "Lucía Ortega"


@pytest.mark.parametrize(
    ("response", "error", "code"),
    [
        (httpx.Response(404, json={"detail": "x"}), CustomerNotFound, "CUSTOMER_NOT_FOUND"),
        (httpx.Response(500), UpstreamUnavailable, "UPSTREAM_UNAVAILABLE"),
        (httpx.Response(200, json={"customer_id": "nobody"}), UpstreamBadResponse, None),
    ],
)
def test_errors_are_mapped_like_every_read(response, error, code):
    with pytest.raises(error) as raised:
        client_for(lambda request: response).get_customer("cust-5150")
    if code:
        assert raised.value.code == code
