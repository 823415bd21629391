"""Logging set-up: readable lines for people, one JSON object per line for machines.

Every record carries the logger name; engine code adds ``run``, ``workflow`` and ``source`` as
``extra`` fields, which the JSON form keeps as keys.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

CONTEXT_KEYS = ("run", "workflow", "source", "channel")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_KEYS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO", *, json_output: bool = False) -> None:
    handler = logging.StreamHandler()
    if json_output:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # One line per HTTP request of every spy drowns what matters; the spies report failures
    # themselves (source health, the sources page). DEBUG shows them again.
    if logging.getLevelName(level) > logging.DEBUG:
        for chatty in ("httpx2", "httpcore", "httpcore2"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
