"""A handler importing nothing: what the bootstrap itself imports, subtracted from the others."""

from typing import Any


def handler(event: Any, context: Any) -> dict[str, str]:
    return {"message": "noop"}
