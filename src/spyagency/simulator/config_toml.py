"""A tiny TOML writer for the flat/one-level-nested config dict of ``agency_config()``."""

from __future__ import annotations

import json
from typing import Any


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def to_toml(config: dict[str, Any], table: str = "simulator") -> str:
    lines = [f"[{table}]"]
    nested = {k: v for k, v in config.items() if isinstance(v, dict)}
    lines += [f"{k} = {_value(v)}" for k, v in config.items() if k not in nested]
    for name, values in nested.items():
        lines += ["", f"[{table}.{name}]"]
        lines += [f"{k} = {_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"
