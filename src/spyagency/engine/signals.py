"""Deciding readiness signals for the Tier-0: in run order, once per decision.

``SignalDesk.decide`` walks the open runs in ascending order:

1. a run whose verdict is ``ready`` and that has not been announced as ready is announced, but
   only while every lower open run is already announced ready: the Tier-0 locks runs in order,
   so a signal for run N while N-1 is pending could only mislead;
2. a run announced ready whose verdict fell back (an override hold, a stale source before the
   lock-in) gets a retraction with its new verdict;
3. each announcement is recorded (``signal`` table, with the assessment as evidence) and queued
   on every signal channel in the same transaction, with one idempotency key per decision.

The poll API (``/api/v1/readiness``) reads the same records, so the push is only a hint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from spyagency.domain.states import Verdict
from spyagency.domain.verdict import RunAssessment
from spyagency.store.codec import assessment_to_dict
from spyagency.store.uow import Transaction

Assess = Callable[[int], RunAssessment]


def signal_payload(
    run: int, verdict: Verdict, key: str, decided_at: datetime, public_url: str | None
) -> dict[str, Any]:
    base = (public_url or "").rstrip("/")
    return {
        "run": run,
        "verdict": verdict.value,
        "idempotency_key": key,
        "decided_at": decided_at.isoformat(),
        "evidence_url": f"{base}/api/v1/runs/{run}",
    }


class SignalDesk:
    def __init__(
        self,
        channels: Sequence[str],
        *,
        dry_run: bool = False,
        public_url: str | None = None,
    ) -> None:
        self.channels = tuple(channels)
        self.dry_run = dry_run
        self.public_url = public_url
        self.announced: dict[int, Verdict] = {}
        self.decisions: dict[int, int] = {}

    def load(self, tx: Transaction) -> None:
        for record in tx.signals.all_latest():
            self.announced[record.run] = Verdict(record.verdict)
            self.decisions[record.run] = record.decisions

    def decide(
        self,
        tx: Transaction,
        verdicts: Mapping[int, Verdict],
        assessments: Sequence[RunAssessment],
        now: datetime,
        assess: Assess,
    ) -> int:
        """``verdicts`` holds the open runs (final runs may be left out: they are skipped, and
        the evaluator evicts them). ``assess`` judges a run not judged in this batch (it may
        become due when the runs below it settle)."""
        fresh = {a.run: a for a in assessments}
        sent = 0
        in_order = True
        for run in sorted(verdicts):
            verdict = verdicts[run]
            if verdict.is_final:
                continue
            last = self.announced.get(run)
            if verdict is Verdict.READY:
                if last is not Verdict.READY and in_order:
                    assessment = fresh.get(run) or assess(run)
                    if assessment.verdict is Verdict.READY:
                        self._announce(tx, assessment, now)
                        sent += 1
                    else:
                        in_order = False
            else:
                if last is Verdict.READY:
                    self._announce(tx, fresh.get(run) or assess(run), now)
                    sent += 1
                # A run the Tier-0 has already locked (judged unknown for want of evidence)
                # is behind the Tier-0: it holds back no later run.
                if verdict is not Verdict.UNKNOWN or not _locked(fresh.get(run) or assess(run)):
                    in_order = False
        return sent

    def _announce(self, tx: Transaction, assessment: RunAssessment, now: datetime) -> None:
        run, verdict = assessment.run, assessment.verdict
        number = self.decisions.get(run, 0) + 1
        key = f"run-{run}-{verdict.value}-{number}"
        evidence = assessment_to_dict(assessment)
        tx.signals.record(run, verdict, key, now, evidence)
        payload = signal_payload(run, verdict, key, now, self.public_url)
        for channel in self.channels:
            tx.outbox.enqueue(channel, "signal", run, key, payload, now, dry_run=self.dry_run)
        self.announced[run] = verdict
        self.decisions[run] = number


def _locked(assessment: RunAssessment) -> bool:
    return assessment.locked_at is not None or assessment.released_at is not None
