"""An observation: one fact from one source at one time, with the raw evidence it came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from spyagency.domain.facts import Fact, FactKey, fact_run
from spyagency.domain.states import Source


@dataclass(frozen=True)
class Observation:
    """``observed_at`` is when the agency saw it; ``fact_time`` when it happened upstream (if
    the source says, e.g. a file mtime or an IOV insertion time)."""

    source: Source
    observed_at: datetime
    fact: Fact
    raw: str = ""
    fact_time: datetime | None = None
    id: int | None = None

    @property
    def run(self) -> int | None:
        return fact_run(self.fact)

    @property
    def key(self) -> FactKey:
        return self.fact.key()

    def order_key(self) -> tuple[datetime, str]:
        """Total order used to fold: time of observation, then content (ties are rare and any
        fixed tie-break keeps folding independent of arrival order)."""
        return (self.observed_at, repr(self.fact))
