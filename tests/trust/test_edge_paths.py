"""Paths at the edge (issue 11, item 12): a trailing slash, encoded or not, is refused and
audited like any unknown route, never redirected, and nothing in an answer follows the Host."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import headers_for, lookup


@pytest.mark.parametrize("path", ["POL-10001%2F", "POL-10001/", "POL-10001%2f"])
def test_a_trailing_slash_is_refused_and_audited_not_redirected(
    handlers, fresh_reference, audit_rows, conversation_id, path
):
    headers = headers_for(conversation_id) | {"Host": "evil.example"}

    answer = lookup(handlers["PolicyLookupFunction"], path, headers)

    assert answer.status == 404, answer
    assert "location" not in answer.headers
    assert answer.body["error"]["code"] == "ROUTE_NOT_FOUND"
    assert "evil.example" not in str(answer.body)
    (row,) = audit_rows(conversation_id)
    assert (row["outcome"], row["error_code"]) == ("error", "ROUTE_NOT_FOUND")


def test_through_the_local_gateway_too(api_url, fresh_reference, audit_rows, conversation_id):
    headers = headers_for(conversation_id) | {"Host": "evil.example"}
    answer = httpx.get(f"{api_url}/policies/POL-10001%2F", headers=headers, follow_redirects=False)

    assert answer.status_code == 404
    assert "location" not in answer.headers
    assert [r["error_code"] for r in audit_rows(conversation_id)] == ["ROUTE_NOT_FOUND"]
