"""Strict reading of a JSON request body, before any framework parses it.

Python's ``json`` accepts what this API should not, and some of it fails late and badly:
nesting deep enough to exhaust the interpreter's recursion limit (a 500 from inside the
framework), ``NaN`` and ``Infinity``, numbers in exponent form (``1e3`` for an amount), and
duplicate keys, where the last silently wins while a gateway or firewall in front of us may have
read the first. Bytes that are not UTF-8 are refused here too, so the message can say so. Each
refusal is a ``ValidationFailed`` naming the problem; the framework then parses a body known to
be sound.
"""

from __future__ import annotations

import json
from email.message import Message
from typing import Any

from insurance_agent.errors import UnsupportedMediaType, ValidationFailed

# Our bodies are two levels deep (claim -> amount_claimed); 32 leaves room and stays far from
# the interpreter's recursion limit in every later walk of the body (validation, redaction).
MAX_DEPTH = 32
JSON_TYPES = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true/false",
}


def _refuse(message: str, kind: str) -> ValidationFailed:
    return ValidationFailed(
        f"invalid request: (body): {message}",
        details={"errors": [{"field": "(body)", "message": message, "type": kind}]},
    )


# What nearly every request says, accepted without parsing the header (~25 us a request).
_PLAIN_JSON = frozenset({"application/json", "application/json; charset=utf-8"})


def check_content_type(content_type: str | None) -> None:
    """JSON, or no Content-Type at all (read as JSON, as FastAPI does)."""
    if not content_type or content_type in _PLAIN_JSON:
        return
    header = Message()
    header["content-type"] = content_type
    maintype, subtype = header.get_content_maintype(), header.get_content_subtype()
    if maintype != "application" or not (subtype == "json" or subtype.endswith("+json")):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, not {header.get_content_type()}",
            details={"content_type": header.get_content_type()},
        )
    charset = header.get_content_charset()
    if charset not in (None, "utf-8", "utf8"):
        raise UnsupportedMediaType(
            f"Content-Type charset must be utf-8, not {charset}", details={"charset": charset}
        )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _refuse(f"duplicate key {key!r}", "json_duplicate_key")
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise _refuse(f"{name} is not a number", "json_not_a_number")


def _plain_float(text: str) -> float:
    if "e" in text or "E" in text:
        raise _refuse(f"number {text[:20]} in exponent form: write it out", "json_exponent")
    return float(text)


def _depth(value: Any) -> int:
    """How deep a parsed body nests, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        children = node.values() if isinstance(node, dict) else node
        if isinstance(node, dict | list):
            stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json_body(raw: bytes) -> Any:
    """The body as JSON, or ``ValidationFailed`` saying what is wrong with it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(f"not valid UTF-8 (byte {exc.start})", "utf8_invalid") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_plain_float,
        )
    except RecursionError:
        raise _refuse(f"nested deeper than {MAX_DEPTH} levels", "json_too_deep") from None
    except json.JSONDecodeError as exc:
        raise _refuse(f"not valid JSON ({exc.msg} at position {exc.pos})", "json_invalid") from None
    except ValueError:  # an integer too long for int() (sys.get_int_max_str_digits)
        raise _refuse("a number is too long", "json_number_too_long") from None
    if _depth(value) > MAX_DEPTH:
        raise _refuse(f"nested deeper than {MAX_DEPTH} levels", "json_too_deep")
    return value


def check_json_body(raw: bytes, content_type: str | None) -> None:
    """Refuse a request body this API must not hand to its framework: see the module doc."""
    check_content_type(content_type)
    body = parse_json_body(raw)
    if not isinstance(body, dict):
        kind = JSON_TYPES.get(type(body), "null")
        raise _refuse(f"must be a JSON object, not {kind}", "json_not_an_object")
