"""Read what the local tools need from template.yaml: functions, handlers, routes, env, layer.

template.yaml is the single source of truth; nothing here repeats a route or a handler path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as {"Ref": ...} mappings."""


def _tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


@dataclass(frozen=True)
class Route:
    method: str
    path: str


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    routes: tuple[Route, ...]
    environment: dict[str, Any] = field(default_factory=dict)
    timeout_s: int = 10
    memory_mb: int = 512

    @property
    def module_and_attr(self) -> tuple[str, str]:
        module, _, attr = self.handler.rpartition(".")
        return module, attr


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open() as fh:
        loaded: dict[str, Any] = yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 -- SafeLoader subclass
    return loaded


def functions(template: dict[str, Any] | None = None) -> dict[str, FunctionSpec]:
    template = template or load_template()
    glob = (template.get("Globals") or {}).get("Function") or {}
    out: dict[str, FunctionSpec] = {}
    for logical_id, res in template["Resources"].items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = res["Properties"]
        env = dict(((glob.get("Environment") or {}).get("Variables")) or {})
        env.update(((props.get("Environment") or {}).get("Variables")) or {})
        routes = tuple(
            Route(ev["Properties"]["Method"].upper(), ev["Properties"]["Path"])
            for ev in (props.get("Events") or {}).values()
            if ev.get("Type") == "HttpApi"
        )
        out[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=ROOT / props["CodeUri"],
            handler=props.get("Handler", glob.get("Handler")),
            routes=routes,
            environment=env,
            timeout_s=int(props.get("Timeout", glob.get("Timeout", 3))),
            memory_mb=int(props.get("MemorySize", glob.get("MemorySize", 128))),
        )
    return out


def layer_dirs(template: dict[str, Any] | None = None) -> list[Path]:
    template = template or load_template()
    return [
        ROOT / res["Properties"]["ContentUri"]
        for res in template["Resources"].values()
        if res.get("Type") == "AWS::Serverless::LayerVersion"
    ]


def layer_logical_ids(template: dict[str, Any] | None = None) -> list[str]:
    """The layers' logical ids: ``sam build`` names each built layer's directory after it."""
    template = template or load_template()
    return [
        logical_id
        for logical_id, res in template["Resources"].items()
        if res.get("Type") == "AWS::Serverless::LayerVersion"
    ]
