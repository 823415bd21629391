"""Path parameters shared by the API and the pages: a run number or a record id, as plain
decimal digits within bounds, so every route answers 422 alike rather than 500 on a number
past 64 bits, and ``3_8_0`` (which Python's ``int`` accepts) is no run number."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BeforeValidator

MAX_RUN = 2**62
MAX_ID = 2**62
DIGITS = frozenset("0123456789")


def _decimal(value: Any) -> Any:
    if isinstance(value, str) and not (value and len(value) <= 19 and set(value) <= DIGITS):
        raise ValueError("must be decimal digits only")
    return value


RunNumber = Annotated[
    int, BeforeValidator(_decimal), Path(ge=1, le=MAX_RUN, description="the CMS run number")
]
RecordId = Annotated[int, BeforeValidator(_decimal), Path(ge=1, le=MAX_ID)]
