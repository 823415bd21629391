"""Hypothesis strategies for every fact type, derived from the dataclass fields so a new fact
type is covered without touching this file."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from typing import Any, Union, get_args, get_origin

from hypothesis import strategies as st

from spyagency.domain.facts import FACT_TYPES, Fact
from spyagency.domain.observation import Observation
from spyagency.domain.states import Source

# PostgreSQL text cannot hold NUL and JSON text cannot hold lone surrogates; neither occurs in
# what the spies parse (NUL in raw text is covered by its own test).
CHARACTERS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
TEXT = st.text(CHARACTERS, max_size=12)
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])
MOMENTS = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=ZONES
)


def for_annotation(annotation: Any) -> st.SearchStrategy[Any]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return st.one_of(*(for_annotation(a) for a in get_args(annotation)))
    if origin is tuple:
        return st.lists(for_annotation(get_args(annotation)[0]), max_size=3).map(tuple)
    if annotation is type(None):
        return st.none()
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(min_value=0, max_value=2**40)
    if annotation is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if annotation is str:
        return TEXT
    if annotation is datetime:
        return MOMENTS
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return st.sampled_from(list(annotation))
    raise TypeError(f"no strategy for {annotation!r}")


def fact_of(cls: type[Any]) -> st.SearchStrategy[Fact]:
    hints = typing.get_type_hints(cls)
    fields = {f.name: for_annotation(hints[f.name]) for f in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


facts: st.SearchStrategy[Fact] = st.one_of(*(fact_of(cls) for cls in FACT_TYPES.values()))

observations = st.builds(
    Observation,
    source=st.sampled_from(list(Source)),
    observed_at=MOMENTS,
    fact=facts,
    raw=st.text(CHARACTERS),
    fact_time=st.none() | MOMENTS,
)
