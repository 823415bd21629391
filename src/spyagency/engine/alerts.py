"""Keeping the stored alerts in step with what the rules say should be open.

``AlertKeeper.reconcile`` after every batch:

1. computes the alert candidates of the runs just judged (and of the sources on a tick);
2. opens each new candidate, or refreshes the open alert with the same key (an acknowledgement
   holds only while the state it was given in holds);
3. resolves open alerts of those runs (or sources) that are no longer candidates;
4. queues one notification per alert channel for every opening and every resolution, keyed so
   that a retry never notifies twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from spyagency.domain.alerting import AlertCandidate, run_alerts, source_alerts
from spyagency.domain.health import SourceHealth
from spyagency.domain.policy import Policy
from spyagency.domain.states import Source, WorkflowState
from spyagency.domain.verdict import RunAssessment
from spyagency.store.alerts import Alert
from spyagency.store.events import EventKind, NewEvent
from spyagency.store.run_records import StateChange
from spyagency.store.uow import Transaction

REFRESHED_CHANNEL = "alertmanager"
REFRESH_SECONDS = 240


class AlertKeeper:
    def __init__(
        self,
        policy: Policy,
        channels: Sequence[str],
        sources: Iterable[Source],
        public_url: str | None = None,
    ) -> None:
        self.policy = policy
        self.channels = tuple(channels)
        self.sources = tuple(sources)
        self.public_url = (public_url or "").rstrip("/")
        self.state_since: dict[int, dict[str, datetime]] = {}

    def load(self, tx: Transaction) -> None:
        # Only open runs can be stuck; final runs' alerts do not depend on these times.
        self.state_since = tx.states.open_states_since()

    def note_changes(self, change: StateChange, now: datetime) -> None:
        since = self.state_since.setdefault(change.run, {})
        for workflow in change.workflow_changes:
            since[workflow.workflow] = now

    def reconcile(
        self,
        tx: Transaction,
        assessments: Sequence[RunAssessment],
        health: Mapping[Source, SourceHealth],
        now: datetime,
        *,
        include_sources: bool,
        extra: Sequence[AlertCandidate] = (),
    ) -> tuple[int, int]:
        """``extra``: candidates of the judged runs raised elsewhere (the forecaster's)."""
        candidates: list[AlertCandidate] = list(extra)
        for assessment in assessments:
            since = self.state_since.get(assessment.run, {})
            candidates.extend(run_alerts(assessment, since, self.policy, now))
        if include_sources:
            candidates.extend(source_alerts(health, self.policy, now, self.sources))
        wanted = {c.dedupe_key: c for c in candidates}
        judged = {a.run for a in assessments}
        held = _hidden_workflows(assessments)
        # One read of the open alerts serves both halves: an alert whose condition holds
        # unchanged is only marked seen (all of them in one statement at the end). Only the
        # judged runs' (and the sources' on a tick): no other alert can be wanted or resolved.
        open_now = {
            a.dedupe_key: a for a in tx.alerts.open_alerts_of(judged, system=include_sources)
        }
        unchanged: list[int] = []

        opened = 0
        for key, candidate in wanted.items():
            message = f"{candidate.summary}: {candidate.description}".rstrip(": ")
            current = open_now.get(key)
            if current is not None and _holds_unchanged(current, candidate, message):
                unchanged.append(current.id)
                alert, is_new = current, False
            else:
                alert, is_new = tx.alerts.open_or_touch(
                    key,
                    candidate.kind.value,
                    candidate.severity.value,
                    candidate.run,
                    candidate.workflow,
                    candidate.source.value if candidate.source else None,
                    message,
                    now,
                    state=candidate.state,
                )
            if is_new:
                opened += 1
                self._notify(tx, alert, candidate, "firing", now)
            elif REFRESHED_CHANNEL in self.channels:
                self._refresh(tx, alert, candidate, now)
        tx.alerts.touch_many(unchanged, now)

        resolved = 0
        for alert in open_now.values():
            # Read for the judged runs (and the sources on a tick) only: all of them are ours.
            if alert.dedupe_key in wanted or _is_held(alert, held):
                continue
            closed = tx.alerts.resolve(alert.dedupe_key, now)
            if closed is not None:
                resolved += 1
                self._notify(tx, closed, None, "resolved", now)
        return opened, resolved

    def _refresh(
        self, tx: Transaction, alert: Alert, candidate: AlertCandidate, now: datetime
    ) -> None:
        """Alertmanager forgets a firing alert it has not heard of for ``resolve_timeout``
        (5 min by default): say it again every few minutes while it lasts (one key per slot,
        so a slot never sends twice)."""
        slot = int(now.timestamp()) // REFRESH_SECONDS
        self._notify(tx, alert, candidate, "firing", now, f"-{slot}", (REFRESHED_CHANNEL,))

    def _notify(
        self,
        tx: Transaction,
        alert: Alert,
        candidate: AlertCandidate | None,
        state: str,
        now: datetime,
        suffix: str = "",
        channels: tuple[str, ...] | None = None,
    ) -> None:
        summary = candidate.summary if candidate else alert.message.split(": ", 1)[0]
        description = candidate.description if candidate else alert.message
        payload: dict[str, Any] = {
            "kind": alert.kind,
            "severity": alert.severity,
            "state": state,
            "run": alert.run,
            "workflow": alert.workflow,
            "source": alert.source,
            "summary": summary,
            "description": description,
            "dedupe_key": alert.dedupe_key,
            "opened_at": alert.opened_at.isoformat(),
            "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
            "url": f"{self.public_url}/runs/{alert.run}"
            if alert.run
            else f"{self.public_url}/sources",
        }
        key = f"alert-{alert.id}-{state}{suffix}"
        for channel in channels or self.channels:
            tx.outbox.enqueue(channel, "alert", alert.run, key, payload, now)
        if suffix:
            return  # a refresh is not news: no event
        tx.events.append_many(
            [
                NewEvent(
                    at=now,
                    kind=EventKind.ALERT,
                    run=alert.run,
                    workflow=alert.workflow,
                    old=None if state == "firing" else "firing",
                    new=state,
                    detail={"alert_id": alert.id, "kind": alert.kind, "summary": summary},
                )
            ]
        )


def _holds_unchanged(current: Alert, candidate: AlertCandidate, message: str) -> bool:
    """True when touching ``current`` for ``candidate`` would change nothing but the time it
    was last seen (same severity, text and state, so an acknowledgement still holds)."""
    return (
        current.severity == candidate.severity.value
        and current.message == message
        and current.description == ""
        and current.state == candidate.state
    )


def _hidden_workflows(assessments: Sequence[RunAssessment]) -> set[tuple[int, str]]:
    """(run, workflow) whose state is unknown now: their open alerts are held, since the
    condition may well last (a stale source hides the state it was raised for)."""
    return {
        (assessment.run, workflow.workflow)
        for assessment in assessments
        for workflow in assessment.workflows
        if workflow.state is WorkflowState.UNKNOWN
    }


def _is_held(alert: Alert, held: set[tuple[int, str]]) -> bool:
    if alert.run is None or alert.workflow is None:
        return False
    # A workflow's alerts are keyed by its name, or its name and an aspect ("<name>/harvest-job").
    return (alert.run, alert.workflow.split("/", 1)[0]) in held
