"""Reading the configuration: one TOML file plus environment overrides, validated once at
start into ``config.settings.Settings``, or refused with a message naming every bad key.

Environment variables named ``SPYAGENCY__<SECTION>__<KEY>`` override the file, e.g.
``SPYAGENCY__DATABASE__URL=postgresql+psycopg://...`` or
``SPYAGENCY__SOURCES__TIER0__POLL_INTERVAL_SECONDS=30``. Values are read as JSON when they
parse as JSON (numbers, booleans, lists), else as plain strings.
"""

from __future__ import annotations

import json
import os
import reprlib
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from spyagency.config.settings import Settings

ENV_PREFIX = "SPYAGENCY__"


class ConfigError(Exception):
    """A configuration that cannot be used; the message names every bad key."""


def _set_path(target: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        child = target.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{'.'.join(path)}: cannot override inside a non-table value")
        target = child
    target[path[-1]] = value


def environment_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not path:
            continue
        try:
            value: Any = json.loads(raw)
        except (json.JSONDecodeError, RecursionError):  # nested too deeply: keep the text
            value = raw
        _set_path(overrides, path, value)
    return overrides


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# Bounded echo of a bad value: a huge or deeply nested one must not drown (or crash) the message.
_shown = reprlib.Repr()
_shown.maxstring = _shown.maxother = 200
_shown.maxlevel = 3


def _may_hold_secret(key: str) -> bool:
    """A bad value of such a setting is never echoed: a URL may carry a password."""
    last = key.rsplit(".", 1)[-1]
    return last.endswith("url") or any(w in last for w in ("secret", "password", "token"))


def describe_errors(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown setting (check the spelling against the README)"
        given = item.get("input")
        shown = (
            ""
            if item["type"] == "missing" or isinstance(given, dict) or _may_hold_secret(key)
            else f" (got {_shown.repr(given)})"
        )
        lines.append(f"{key}: {message}{shown}")
    return "\n".join(lines)


def parse_settings(
    document: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> Settings:
    merged = _merge(dict(document), environment_overrides(environ or {}))
    try:
        return Settings.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(describe_errors(error)) from None


def load_settings(path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read ``path`` (or only defaults and the environment when None) and validate."""
    document: dict[str, Any] = {}
    if path is not None:
        try:
            document = tomllib.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such configuration file") from None
        except OSError as error:
            raise ConfigError(f"{path}: cannot read it: {error.strerror or error}") from None
        except UnicodeDecodeError as error:
            raise ConfigError(f"{path}: not UTF-8 text: {error}") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from None
        except RecursionError:
            raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    return parse_settings(document, os.environ if environ is None else environ)
