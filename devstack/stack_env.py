"""The running local stack's function environment, shared through ``.local/stack.env``.

``make run`` writes it (mode 0600: it holds the reference service's per-run API key) and
removes it on exit; ``make invoke`` reads it so a single invocation reaches the same stack.
Lines are ``KEY='value'``, so a shell can ``source`` the file too.

It also writes ``.local/sam-env.json``: events/env.json (for ``sam local invoke --env-vars``,
whose container reaches the host as host.docker.internal) with the running stack's key.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
# Where a running stack leaves its state (this file, the signing key); a test that starts its
# own `make run` points it elsewhere so a developer's running stack is left alone.
STATE_DIR = Path(os.environ.get("DEVSTACK_STATE_DIR") or ROOT / ".local")
STACK_ENV = STATE_DIR / "stack.env"
SAM_ENV_TEMPLATE = ROOT / "events" / "env.json"
SAM_ENV = STATE_DIR / "sam-env.json"


class StackNotRunning(RuntimeError):
    pass


def write_private(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created 0600 before any secret is written, never widened afterwards.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return path


def write_stack_env(env: dict[str, str], path: Path = STACK_ENV) -> Path:
    lines = ["# Written by `make run` for `make invoke`; removed when the stack stops."]
    for name, value in sorted(env.items()):
        # Single quotes read the same to a shell and to python-dotenv: no expansion inside.
        # URLs and generated keys never hold a quote or a newline; refuse rather than mangle.
        if "'" in value or "\n" in value:
            raise ValueError(f"{name}: value cannot be written to {path.name}")
        lines.append(f"{name}='{value}'")
    return write_private(path, "\n".join(lines) + "\n")


def write_sam_env(
    env: dict[str, str], path: Path = SAM_ENV, template: Path = SAM_ENV_TEMPLATE
) -> Path:
    """events/env.json with this stack's API key, database and reference service filled in."""
    sam_env = json.loads(template.read_text())
    params = sam_env["Parameters"]
    params["FASTAPI_INSURANCE_API_KEY"] = env["FASTAPI_INSURANCE_API_KEY"]
    for name in ("DATABASE_URL", "FASTAPI_INSURANCE_BASE_URL"):
        params[name] = _seen_from_container(env[name])
    return write_private(path, json.dumps(sam_env, indent=2) + "\n")


def _seen_from_container(url: str) -> str:
    """The same URL as a container reaches the host's loopback services."""
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost"):
        return url
    netloc = parts.netloc.replace(parts.hostname, "host.docker.internal", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def read_stack_env(path: Path = STACK_ENV) -> dict[str, str]:
    if not path.exists():
        raise StackNotRunning(f"{path} not found: start the local stack with `make run` first")
    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def remove_stack_env(*paths: Path) -> None:
    for path in paths or (STACK_ENV, SAM_ENV):
        path.unlink(missing_ok=True)
