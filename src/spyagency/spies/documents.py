"""Turning an answer's text into a JSON value: strictly, or defensively for legacy servers.

The legacy DQM GUI sometimes wrote Python-style quasi-JSON (single quotes, ``True``). The
lenient reader tries real JSON first and only then a conversion that never evaluates code:
``ast.literal_eval`` accepts literals only, after JSON's ``true/false/null`` are renamed.
"""

from __future__ import annotations

import ast
import io
import json
import tokenize
from collections.abc import Callable
from typing import Any

from spyagency.spies.failures import SchemaViolation, truncate_raw

JsonReader = Callable[[str], Any]

# literal_eval of a huge document is slow and memory hungry; nothing we read is this big.
LENIENT_LIMIT = 4 * 1024 * 1024
_JSON_NAMES = {"true": "True", "false": "False", "null": "None"}


def loads_strict(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as bad:
        raise SchemaViolation(f"invalid JSON: {bad}", truncate_raw(text)) from None


def _pythonise(text: str) -> str:
    """Rename JSON's bare words to Python's, leaving string contents alone."""
    tokens = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        renamed = _JSON_NAMES.get(token.string) if token.type == tokenize.NAME else None
        tokens.append(token._replace(string=renamed) if renamed else token)
    return tokenize.untokenize(tokens)


def _plain(value: Any) -> Any:
    """Keep only what JSON could have said: tuples and sets are not answers we understand."""
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise SchemaViolation("object keys must be strings")
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise SchemaViolation(f"not a JSON value: {type(value).__name__}")


def loads_lenient(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    if len(text) > LENIENT_LIMIT:
        raise SchemaViolation("invalid JSON (too large for the lenient reader)", text)
    try:
        value = ast.literal_eval(_pythonise(text).strip())
        return _plain(value)
    except SchemaViolation as bad:
        raise SchemaViolation(bad.message, truncate_raw(text)) from None
    # literal_eval and the tokenizer fail in many ways on garbage; any of them means the same.
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, tokenize.TokenError):
        raise SchemaViolation("invalid JSON (also as quasi-JSON)", truncate_raw(text)) from None
