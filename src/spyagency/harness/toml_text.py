"""Just enough TOML writing to print a configuration the agency reads back with ``tomllib``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def to_toml(document: Mapping[str, Any], prefix: str = "") -> str:
    """Scalars first, then one ``[table]`` per nested mapping (recursively)."""
    lines = [f"{k} = {_value(v)}" for k, v in document.items() if not isinstance(v, Mapping)]
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, value in document.items():
        if isinstance(value, Mapping):
            name = f"{prefix}.{key}" if prefix else key
            body = to_toml(value, name)
            scalars = any(not isinstance(v, Mapping) for v in value.values())
            out += (f"\n[{name}]\n" if scalars else "") + body
    return out
