"""Parsing OMS ``runs`` pages (JSON:API, ``https://cmsoms.cern.ch/agg/api/v1/runs``) into
``RunInfo`` (docs/protocols.md, "OMS")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spyagency.domain.facts import RunInfo
from spyagency.spies.failures import SchemaViolation
from spyagency.spies.parsing import (
    as_list,
    as_mapping,
    compact,
    optional_bool,
    optional_float,
    optional_int,
    optional_str,
    optional_timestamp,
    require_int,
    run_number,
    strings,
)

# The run sequence of a global run: the only runs the Tier-0 takes (with tier0_transfer).
GLOBAL_SEQUENCE = "GLOBAL-RUN"


@dataclass(frozen=True)
class RunsPage:
    items: tuple[Any, ...]
    total: int | None
    has_next: bool


def parse_page(body: Any) -> RunsPage:
    document = as_mapping(body, "OMS answer")
    items = as_list(document.get("data"), "OMS 'data'")
    meta = document.get("meta")
    total = None
    if isinstance(meta, Mapping) and isinstance(meta.get("totalResourceCount"), int):
        total = int(meta["totalResourceCount"])
    links = document.get("links")
    has_next = isinstance(links, Mapping) and bool(links.get("next"))
    return RunsPage(tuple(items), total, has_next)


def _components(attributes: Mapping[str, Any]) -> tuple[str, ...]:
    value = attributes.get("components")
    if value is None:
        return ()
    if isinstance(value, str):  # some OMS views give a comma list instead of an array
        return tuple(p.strip() for p in value.split(",") if p.strip())
    try:
        return strings(value, "components")
    except SchemaViolation as bad:
        raise SchemaViolation(bad.message, compact(attributes)) from None


def parse_run(item: Any) -> RunInfo:
    resource = as_mapping(item, "OMS resource")
    attributes = as_mapping(resource.get("attributes"), "OMS attributes")
    try:
        run = run_number(require_int(attributes, "run_number"))
    except SchemaViolation as bad:
        raise SchemaViolation(bad.message, compact(resource)) from None
    return RunInfo(
        run=run,
        start=optional_timestamp(attributes, "start_time"),
        stop=optional_timestamp(attributes, "end_time"),
        fill=optional_int(attributes, "fill_number"),
        # OMS has no run class (the Run Registry has it): never read one from OMS.
        run_class=None,
        b_field=optional_float(attributes, "b_field"),
        components=_components(attributes),
        stable_beam=optional_bool(attributes, "stable_beam"),
        sequence=optional_str(attributes, "sequence"),
        tier0_transfer=optional_bool(attributes, "tier0_transfer"),
    )


def is_local_run(info: RunInfo) -> bool:
    """A local or MiniDAQ run: OMS lists it, the Tier-0 never sees it. Only what OMS says
    counts: a run without ``sequence`` or ``tier0_transfer`` is not judged local."""
    local_sequence = info.sequence is not None and info.sequence != GLOBAL_SEQUENCE
    return local_sequence or info.tier0_transfer is False
