"""Pydantic and FastAPI validation errors, described for a caller without echoing its input."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def describe_errors(errors: Sequence[Any], *, skip_prefix: int = 0) -> list[dict[str, str]]:
    """``[{"field": "amount_claimed.amount", "message": ..., "type": ...}]``, at most 20.

    The offending values are left out on purpose: they may be secrets or personal data.
    """
    described = []
    for err in list(errors)[:20]:
        loc = [str(p) for p in err.get("loc", ())][skip_prefix:]
        if err.get("type") == "json_invalid":
            loc = []  # FastAPI puts the byte offset where the field would be
        described.append(
            {
                "field": ".".join(loc) or "(body)",
                "message": str(err.get("msg", "invalid")),
                "type": str(err.get("type", "value_error")),
            }
        )
    return described


def summarize_errors(described: Sequence[dict[str, str]]) -> str:
    return "; ".join(f"{d['field']}: {d['message']}" for d in described[:5])
