"""Checks on what people type into the API: free text (a reason, a note) must say something
and be storable on every backend, and a workflow name must look like a catalogue identifier.

Request bodies use ``FreeText`` as a field type; ``WORKFLOW_NAME`` also guards a path parameter,
so a malformed name is refused before any query."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field


def storable(text: str) -> str:
    """PostgreSQL text cannot hold NUL: store the replacement character on every backend."""
    return text.replace("\x00", "\ufffd")


def says_something(text: str) -> str:
    """A reason must hold at least one visible character: blanks, zero-width and other
    format characters alone (which pass a length check) say nothing."""
    if not any(not ch.isspace() and unicodedata.category(ch) not in INVISIBLE for ch in text):
        raise ValueError("must say something: only blank or invisible characters given")
    return text


INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})


# Free text a person types (why, reason): kept verbatim but for NUL, and never blank.
FreeText = Annotated[
    str,
    Field(min_length=1, max_length=2000),
    AfterValidator(says_something),
    AfterValidator(storable),
]


# Workflow names are catalogue identifiers; anything else is refused before any query.
WORKFLOW_NAME = r"^[A-Za-z0-9_.-]+$"
