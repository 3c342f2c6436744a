"""Docker-free ``sam local invoke``: one event through one function, in a clean process.

    python -m devstack.invoke PolicyLookupFunction events/policy_lookup_ok.json
    python -m devstack.invoke ClaimCreateFunction events/claim_create_ok.json --built .aws-sam/build

The function's handler, environment and layer come from template.yaml; the values only AWS
has (``!Ref``/``!GetAtt``) come from the running local stack (``.local/stack.env``, written by
``make run``). The event runs in ``python -I -S`` with only the function's code, its layer and
(for built artifacts) a stand-in for the Lambda runtime's boto3 on ``sys.path``. The response
is printed on stdout, the function's logs on stderr.

Event files may hold ``{{today-2d}}``-style dates and ``{{uuid}}``, rendered at invoke time so
a claim's loss date stays inside the seeded policies' rolling terms (``--render`` prints the
rendered event for ``sam local invoke -e``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devstack.lambda_runtime import resolve_environment
from devstack.stack_env import STACK_ENV, StackNotRunning, read_stack_env
from devstack.template import ROOT, FunctionSpec, functions, layer_dirs, layer_logical_ids

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
EVENTS_DIR = ROOT / "events"
MANIFEST = EVENTS_DIR / "expected.json"
# What the Lambda Python runtime carries in /var/runtime besides the bootstrap: boto3 and
# its dependencies. The layer does not ship them, so built artifacts need a stand-in.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")

Outcome = int | str


@dataclass(frozen=True)
class Artifacts:
    """Where a function's code, its layers and the runtime's own packages come from."""

    code_dir: Path
    layer_paths: tuple[Path, ...]
    runtime_paths: tuple[Path, ...] = ()

    @property
    def sys_path(self) -> list[Path]:
        # The Lambda runtime's order: /var/task, /opt/python, /var/runtime.
        return [self.code_dir, *self.layer_paths, *self.runtime_paths]


def source_artifacts(spec: FunctionSpec) -> Artifacts:
    """The source tree: the layer's own package plus the locked dependencies installed here."""
    return Artifacts(spec.code_dir, (*layer_dirs(), Path(sysconfig.get_paths()["purelib"])))


def built_artifacts(spec: FunctionSpec, build_dir: Path, runtime_dir: Path) -> Artifacts:
    """What ``sam build`` produced, as Lambda mounts it: code dir and each layer's python/."""
    layers = tuple(build_dir / layer_id / "python" for layer_id in layer_logical_ids())
    return Artifacts(build_dir / spec.logical_id, layers, (runtime_dir,))


def runtime_standin(dest: Path, packages: Iterable[str] = RUNTIME_PACKAGES) -> Path:
    """Link this environment's boto3 & co. into ``dest``, mimicking the runtime's /var/runtime."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in packages:
        found = importlib.util.find_spec(name)
        if found is None or found.origin is None:
            raise RuntimeError(f"{name} is not installed; it stands in for the Lambda runtime's")
        origin = Path(found.origin)
        source = origin.parent if found.submodule_search_locations else origin
        link = dest / source.name
        if not link.exists():
            link.symlink_to(source, target_is_directory=source.is_dir())
    return dest


def lambda_env(
    spec: FunctionSpec, artifacts: Artifacts, overrides: dict[str, str]
) -> dict[str, str]:
    """The template's environment with local values, plus what the Lambda runtime sets."""
    env = resolve_environment(spec, overrides)
    region = overrides.get("AWS_REGION", "us-east-1")
    return env | {
        "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout_s),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "LAMBDA_TASK_ROOT": str(artifacts.code_dir),
        "_HANDLER": spec.handler,
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
    }


_PLACEHOLDER = re.compile(r"\{\{(today(?P<days>[+-]\d+)d|uuid)\}\}")


def render_event(path: Path, today: datetime | None = None) -> Any:
    day = (today or datetime.now(UTC)).date()

    def fill(match: re.Match[str]) -> str:
        if match.group(1) == "uuid":
            return uuid.uuid4().hex
        return (day + timedelta(days=int(match.group("days")))).isoformat()

    return json.loads(_PLACEHOLDER.sub(fill, path.read_text()))


def outcome(record: dict[str, Any]) -> Outcome:
    """An answer's status: the HTTP status, Bedrock's httpStatusCode, the error type, or ok."""
    if "error" in record:
        return str(record["error"]["errorType"])
    response = record["response"]
    if isinstance(response, dict):
        if "statusCode" in response:
            return int(response["statusCode"])
        if "messageVersion" in response and isinstance(response.get("response"), dict):
            return int(response["response"]["httpStatusCode"])
    return "ok"


@dataclass(frozen=True)
class EventCase:
    file: str
    function: str
    expect: Outcome
    description: str = ""
    # For HTTP refusals: the error body's code, so a 422 is refused for the intended reason.
    code: str | None = None

    @property
    def path(self) -> Path:
        return EVENTS_DIR / self.file


def load_manifest(path: Path = MANIFEST) -> dict[str, EventCase]:
    """events/expected.json: each event file, the function it is for, and the outcome."""
    raw: dict[str, dict[str, Any]] = json.loads(path.read_text())["events"]
    return {
        name: EventCase(
            name, case["function"], case["expect"], case.get("description", ""), case.get("code")
        )
        for name, case in raw.items()
    }


def bootstrap_command(spec: FunctionSpec, artifacts: Artifacts, *, jsonl: bool) -> list[str]:
    command = [sys.executable, "-I", "-S", str(BOOTSTRAP), "--handler", spec.handler]
    for entry in artifacts.sys_path:
        command += ["--path", str(entry)]
    return [*command, "--jsonl"] if jsonl else command


def invoke_many(
    spec: FunctionSpec,
    artifacts: Artifacts,
    events: Sequence[Any],
    overrides: dict[str, str],
    *,
    timeout_s: float = 120.0,
) -> tuple[list[dict[str, Any]], str]:
    """Run ``events`` through one clean process (one warm container); answers and its logs."""
    done = subprocess.run(  # noqa: S603 -- our own interpreter and script
        bootstrap_command(spec, artifacts, jsonl=True),
        input="".join(json.dumps(event) + "\n" for event in events),
        capture_output=True,
        text=True,
        env=lambda_env(spec, artifacts, overrides),
        cwd=artifacts.code_dir,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{spec.logical_id} process failed ({done.returncode}):\n{done.stderr}")
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return answers, done.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("function", help="logical id in template.yaml, e.g. PolicyLookupFunction")
    parser.add_argument("event", type=Path, help="event file, e.g. events/policy_lookup_ok.json")
    parser.add_argument("--built", type=Path, help="sam build dir (e.g. .aws-sam/build)")
    parser.add_argument("--env-file", type=Path, default=STACK_ENV)
    parser.add_argument("--render", action="store_true", help="print the rendered event only")
    parser.add_argument(
        "--repeat", type=int, default=1, help="send the event N times to one warm process"
    )
    args = parser.parse_args(argv)

    event = render_event(args.event)
    if args.render:
        print(json.dumps(event, indent=2))
        return 0
    specs = functions()
    if args.function not in specs:
        parser.error(f"no function {args.function} in template.yaml; have {', '.join(specs)}")
    spec = specs[args.function]
    try:
        overrides = read_stack_env(args.env_file)
    except StackNotRunning as exc:
        parser.exit(2, f"{exc}\n")
    if args.built:
        if not (args.built / spec.logical_id).is_dir():
            parser.error(f"no {spec.logical_id} in {args.built}: run `make build` first")
        runtime = runtime_standin(ROOT / ".local" / "lambda-runtime")
        artifacts = built_artifacts(spec, args.built.resolve(), runtime)
    else:
        artifacts = source_artifacts(spec)
    done = subprocess.run(  # noqa: S603 -- our own interpreter and script
        bootstrap_command(spec, artifacts, jsonl=False),
        input=(json.dumps(event) + "\n") * max(1, args.repeat),
        text=True,
        env=lambda_env(spec, artifacts, overrides),
        cwd=artifacts.code_dir,
        check=False,
    )
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
