"""One run's timeline: every observation from every source and every change the agency made,
merged and newest first, each line short enough to scan."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from spyagency.domain.clock import utc
from spyagency.domain.facts import Fact
from spyagency.domain.observation import Observation
from spyagency.store.events import Event

# Fields that say nothing on a run's own page (the run) or that are too long for one line.
SKIPPED_FIELDS = frozenset({"run", "payload_hashes", "outputs"})
MAX_VALUE = 80


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    source: str | None  # a source name for observations; None for the agency's own changes
    kind: str
    workflow: str | None
    text: str


def merge_timeline(
    observations: Iterable[Observation], events: Iterable[Event]
) -> list[TimelineEntry]:
    entries = [_from_observation(item) for item in observations]
    entries.extend(_from_event(item) for item in events)
    # Newest first; at equal times the agency's conclusion follows what it saw.
    entries.sort(key=lambda entry: (utc(entry.at), entry.source is None), reverse=True)
    return entries


def fact_summary(fact: Fact) -> str:
    """``harvest_file: input_tag=SiPixelAli_pcl uuid=u1 created=...`` from any fact."""
    parts = []
    for item in fields(fact):
        if item.name in SKIPPED_FIELDS:
            continue
        value = getattr(fact, item.name)
        if value is None or value == ():
            continue
        parts.append(f"{item.name}={_short(value)}")
    return f"{fact.kind}: {' '.join(parts)}"


def _from_observation(item: Observation) -> TimelineEntry:
    workflow = getattr(item.fact, "workflow", None)
    return TimelineEntry(
        at=item.observed_at,
        source=item.source.value,
        kind=item.fact.kind,
        workflow=workflow if isinstance(workflow, str) else None,
        text=fact_summary(item.fact),
    )


def _from_event(item: Event) -> TimelineEntry:
    change = f"{item.old or '∅'} → {item.new or '∅'}"
    detail = _event_detail(item.kind, item.detail)
    text = f"{item.kind}: {change}" + (f" — {detail}" if detail else "")
    return TimelineEntry(item.at, None, item.kind, item.workflow, text)


def _event_detail(kind: str, detail: dict[str, Any]) -> str:
    if "reasons" in detail:
        return "; ".join(str(reason) for reason in detail["reasons"])
    if "evidence" in detail:
        items = detail["evidence"]
        return "; ".join(str(item.get("what", "")) for item in items[:2] if isinstance(item, dict))
    return " ".join(f"{key}={_short(value)}" for key, value in sorted(detail.items()))


def _short(value: object) -> str:
    if isinstance(value, datetime):
        text = f"{utc(value):%Y-%m-%d %H:%MZ}"
    elif isinstance(value, tuple | list):
        text = ",".join(str(v) for v in value)
    else:
        text = str(getattr(value, "value", value))
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"
