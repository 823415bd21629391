"""The simulated Tier-0's PromptReco release logic (dmwm/T0 FindRecoRelease; docs/protocols.md,
"The clock of a run").

Pure bookkeeping, no I/O: the World calls ``step(now)`` at every moment something may change.
Lock-in is strictly in run order. A run is locked by its timer (stop + delay - offset) or, when
readiness is consumed, as soon as it is the lowest unlocked run, has stopped, and the agency
said it is ready; an early lock releases at once. Otherwise release follows at stop + delay.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass


@dataclass
class ReleaseRecord:
    run: int
    stop: float | None = None
    lock_time: float | None = None
    release_time: float | None = None
    early: bool = False
    ready_at: float | None = None
    ready_key: str | None = None
    ready_via: str | None = None


class Tier0Releaser:
    def __init__(self, delay_s: float, offset_s: float, consume_readiness: bool) -> None:
        self.delay_s = delay_s
        self.offset_s = offset_s
        self.consume_readiness = consume_readiness
        self.records: dict[int, ReleaseRecord] = {}
        self._order: list[int] = []
        self._lowest_unlocked = 0  # index into _order
        self._pending_release: list[int] = []  # locked, not yet released (a handful at most)

    def add_run(self, run: int) -> None:
        if run in self.records:
            return
        if self._order and run < self._order[-1]:
            raise ValueError("the Tier-0 learns about runs in increasing order")
        self.records[run] = ReleaseRecord(run)
        bisect.insort(self._order, run)

    def set_stop(self, run: int, stop: float) -> None:
        self.records[run].stop = stop

    def fcsr(self, next_run_guess: int) -> int:
        """First condition-safe run: the lowest run whose PromptReco is not locked yet."""
        if self._lowest_unlocked < len(self._order):
            return self._order[self._lowest_unlocked]
        return self._order[-1] + 1 if self._order else next_run_guess

    def record_ready(self, run: int, at: float, key: str, via: str) -> str:
        record = self.records.get(run)
        if record is None:
            return "unknown_run"
        if record.lock_time is not None:
            return "already_locked"
        if record.ready_at is None:
            record.ready_at, record.ready_key, record.ready_via = at, key, via
        return "recorded" if self.consume_readiness else "ignored"

    def lock_due(self, record: ReleaseRecord) -> float | None:
        return None if record.stop is None else record.stop + self.delay_s - self.offset_s

    def next_timer(self) -> float | None:
        """Earliest future moment at which the timers alone change something."""
        candidates: list[float] = []
        if self._lowest_unlocked < len(self._order):
            due = self.lock_due(self.records[self._order[self._lowest_unlocked]])
            if due is not None:
                candidates.append(due)
        for run in self._pending_release:
            stop = self.records[run].stop
            if stop is not None:
                candidates.append(stop + self.delay_s)
        return min(candidates) if candidates else None

    def step(self, now: float) -> list[tuple[str, int]]:
        """Apply every lock-in and release due at ``now``; return what happened, in order."""
        actions: list[tuple[str, int]] = []
        while self._lowest_unlocked < len(self._order):
            rec = self.records[self._order[self._lowest_unlocked]]
            due = self.lock_due(rec)
            if due is None or rec.stop is None:
                break
            if due <= now:
                rec.lock_time = now
                actions.append(("lock", rec.run))
                self._pending_release.append(rec.run)
            elif self.consume_readiness and rec.ready_at is not None and rec.stop <= now:
                rec.lock_time = rec.release_time = now
                rec.early = True
                actions += [("lock", rec.run), ("release", rec.run)]
            else:
                break
            self._lowest_unlocked += 1
        for run in list(self._pending_release):
            rec = self.records[run]
            if rec.stop is not None and rec.stop + self.delay_s <= now:
                rec.release_time = now
                actions.append(("release", run))
                self._pending_release.remove(run)
        return actions
