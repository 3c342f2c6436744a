"""Events made by AWS's own tool, ``sam local generate-event``, kept under events/generated/.

events/generated/manifest.json records, for each file, the exact command that made it, the
function it is sent to and the outcome it must get. ``python -m devstack.generated_events``
rewrites every file from its command (after a SAM upgrade, say); tests/deploy checks that each
file is still byte-for-byte what its command prints, and runs it through the built handlers.

Powertools for AWS Lambda ships no sample events in its package (its repository's
tests/events are not part of the wheel), so none are kept here.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.template import ROOT

GENERATED_DIR = ROOT / "events" / "generated"
MANIFEST = GENERATED_DIR / "manifest.json"
SAM = ROOT / ".local" / "aws-tools" / "sam" / "bin" / "sam"


@dataclass(frozen=True)
class GeneratedEvent:
    file: str
    command: str  # as recorded: "sam local generate-event ..."
    function: str
    expect: int | str
    description: str
    code: str | None = None

    @property
    def path(self) -> Path:
        return GENERATED_DIR / self.file

    @property
    def argv(self) -> list[str]:
        words = shlex.split(self.command)
        assert words[:3] == ["sam", "local", "generate-event"], self.command
        return words[3:]


def load_generated() -> dict[str, GeneratedEvent]:
    raw: dict[str, dict[str, Any]] = json.loads(MANIFEST.read_text())["events"]
    return {
        name: GeneratedEvent(
            name,
            entry["command"],
            entry["function"],
            entry["expect"],
            entry["description"],
            entry.get("code"),
        )
        for name, entry in raw.items()
    }


def generate(event: GeneratedEvent, sam: Path = SAM) -> str:
    """What the recorded command prints now."""
    done = subprocess.run(  # noqa: S603 -- SAM CLI from the locked tools
        [str(sam), "local", "generate-event", *event.argv],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | {"SAM_CLI_TELEMETRY": "0", "SAM_CLI_DISABLE_UPDATE_CHECK": "1"},
        timeout=120,
    )
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    for event in load_generated().values():
        event.path.write_text(generate(event))
        print(f"{event.file}: {event.command}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
