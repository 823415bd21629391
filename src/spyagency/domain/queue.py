"""The head of the line: which run holds back the early release of the runs behind it.

The Tier-0 locks and releases runs strictly in run order, so a ready run helps only once every
lower run is released, locked or ready itself. The head is the lowest run that is none of
those: until it is settled, every ready run above it waits, whatever its own calibrations.
That run, why it is not ready and since when it holds others is what an operator needs first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from spyagency.domain.states import Verdict


@dataclass(frozen=True)
class QueuedRun:
    """A run that is not final yet, as the store last judged it."""

    run: int
    verdict: Verdict
    verdict_since: datetime
    reasons: tuple[str, ...] = ()
    # The Tier-0 locked it (the FCSR passed it): it no longer holds anything back.
    locked: bool = False


@dataclass(frozen=True)
class Queue:
    head: QueuedRun | None
    # Ready runs above the head, lowest first: each is "held by" the head.
    held: tuple[int, ...] = ()
    # Since when the head holds a ready run back: the moment the first run behind it became
    # ready, or the head's own verdict, whichever came later (None: it holds nothing).
    holding_since: datetime | None = None

    def held_by(self, run: int) -> int | None:
        """The run that holds ``run`` back, if ``run`` is ready and waiting."""
        return self.head.run if self.head is not None and run in self.held else None


def queue_of(runs: list[QueuedRun]) -> Queue:
    """The head of the line among the runs not final yet (any order)."""
    ordered = sorted(runs, key=lambda r: r.run)
    head = next(
        (r for r in ordered if not r.locked and r.verdict is not Verdict.READY),
        None,
    )
    if head is None:
        return Queue(None)
    held = [r for r in ordered if r.run > head.run and r.verdict is Verdict.READY]
    if not held:
        return Queue(head)
    first_ready = min(r.verdict_since for r in held)
    return Queue(head, tuple(r.run for r in held), max(first_ready, head.verdict_since))
