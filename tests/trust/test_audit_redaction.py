"""The audit row is redacted on its own account (not only as seen by the end-of-session leak
scan): a claim whose free text carries the corpus's personal data and secrets is filed, and
neither its intent row nor its result row keeps any of them. Ids shaped like personal data are
refused at the edge, since the trail is stored and looked up by them in clear."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import claim_body, headers_for, lookup, post
from tests.unit.redaction_corpus import LEAKS

FN = "ClaimCreateFunction"


def _chunks(limit: int = 1900) -> list[list[tuple[str, str]]]:
    """The corpus in descriptions that fit the 2000-character limit."""
    chunks: list[list[tuple[str, str]]] = [[]]
    for leak in LEAKS:
        if sum(len(t) + 2 for t, _ in chunks[-1]) + len(leak[0]) > limit:
            chunks.append([])
        chunks[-1].append(leak)
    return chunks


@pytest.mark.parametrize("chunk", _chunks(), ids=lambda c: f"{len(c)}-leaks")
def test_a_filed_claims_audit_rows_keep_no_personal_value(
    handlers, fresh_reference, audit_rows, conversation_id, chunk
):
    description = "; ".join(text for text, _ in chunk)
    headers = headers_for(conversation_id, **{"Idempotency-Key": f"red-{conversation_id}"})

    answer = post(
        handlers[FN],
        FN,
        claim_body(description=description, loss_location="call +44 20 7946 0958"),
        headers,
    )

    assert answer.status == 201, answer.body
    rows = audit_rows(conversation_id)
    assert [r["outcome"] for r in rows] == ["pending", "ok"]
    stored = json.dumps([{k: str(v) for k, v in r.items()} for r in rows])
    for _, secret in chunk:
        assert secret not in stored, secret
    assert "7946 0958" not in stored
    # The claim's facts are still there to read.
    assert rows[0]["payload"]["policy_number"] == "POL-10001"
    assert rows[0]["payload"]["amount_claimed"] == {"amount": "1800.00", "currency": "USD"}
    assert rows[1]["result"]["claim_id"] == answer.body["claim_id"]


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Conversation-Id", "321-54-9876"),
        ("X-Conversation-Id", "4155550178"),
        ("Idempotency-Key", "4111-1111-1111-1111"),
        ("Idempotency-Key", "4111.1111.1111.1112"),
    ],
)
def test_ids_shaped_like_personal_data_are_refused_at_the_edge(
    handlers, fresh_reference, audit_rows, conversation_id, header, value
):
    headers = headers_for(conversation_id, **{"Idempotency-Key": f"key-{conversation_id}"})
    headers[header] = value

    answer = post(handlers[FN], FN, claim_body(), headers)

    assert answer.status == 422, answer.body
    assert "opaque id" in answer.body["error"]["message"]
    assert value not in json.dumps(answer.body)
    with_value = audit_rows(conversation_id=value) + audit_rows(idempotency_key=value)
    assert with_value == []


def test_a_refused_path_is_audited_redacted(handlers, fresh_reference, audit_rows, conversation_id):
    lookup(handlers["PolicyLookupFunction"], "pat.doe@example.org", headers_for(conversation_id))

    (row,) = audit_rows(conversation_id)
    assert row["outcome"] == "error"
    assert "pat.doe@example.org" not in json.dumps(row["payload"]) + json.dumps(row["result"])
