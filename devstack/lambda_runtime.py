"""Load a function's handler the way the Lambda Python runtime does.

Lambda puts the function's code directory and each layer's ``python/`` directory on
``sys.path`` and imports the handler module. In-process, three functions all named ``app``
would collide in ``sys.modules``, so each is imported under its own name from its file.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from devstack.template import FunctionSpec

Handler = Callable[[Any, Any], Any]


def resolve_environment(spec: FunctionSpec, overrides: dict[str, str]) -> dict[str, str]:
    """The template's literal variables, with ``!Ref``s filled in from ``overrides``."""
    env: dict[str, str] = {}
    for name, value in spec.environment.items():
        if name in overrides:
            env[name] = overrides[name]
        elif isinstance(value, str | int | float | bool):
            env[name] = str(value)
    for name, value in overrides.items():
        env.setdefault(name, value)
    return env


def load_handler(
    spec: FunctionSpec, *, code_dir: Path | None = None, extra_paths: Iterable[Path] = ()
) -> Handler:
    code = code_dir or spec.code_dir
    for path in [code, *extra_paths]:
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    module_name, attr = spec.module_and_attr
    unique = f"_lambda_{spec.logical_id}_{module_name.replace('.', '_')}"
    file = code / (module_name.replace(".", os.sep) + ".py")
    module_spec = importlib.util.spec_from_file_location(unique, file)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load handler {spec.handler} from {file}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[unique] = module
    module_spec.loader.exec_module(module)
    handler: Handler = getattr(module, attr)
    return handler
