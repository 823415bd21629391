"""The readiness contract polled by the Tier-0 (docs/protocols.md): ready runs, in run order.

A run is listed only while both its newest recorded decision and its current verdict are
``ready``: a retraction (an override hold, a source gone stale) removes it at once. With the
kill switch off the list is empty, so a poller that ignores the extra fields still fails safe.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from spyagency.domain.queue import queue_of
from spyagency.domain.states import Verdict
from spyagency.store.controls import SIGNALS_ENABLED
from spyagency.store.uow import Transaction
from spyagency.web.authorization import Action
from spyagency.web.params import MAX_RUN
from spyagency.web.schemas.readiness import Queue, QueueHead, Readiness, ReadinessSignal
from spyagency.web.security import require
from spyagency.web.services import WebServices

MAX_SIGNALS = 500


def signals_enabled(services: WebServices, tx: Transaction) -> bool:
    """The configuration and the experts' runtime switch must both allow signals."""
    if not services.signals_configured:
        return False
    switch = tx.controls.get(SIGNALS_ENABLED)
    return switch is None or bool(switch.value)


def router(services: WebServices) -> APIRouter:
    api = APIRouter(tags=["readiness"], dependencies=[Depends(require(Action.READ))])

    @api.get("/readiness", response_model=Readiness)
    def readiness(
        after_run: Annotated[
            int, Query(ge=0, le=MAX_RUN, description="the highest run already handled")
        ] = 0,
    ) -> Readiness:
        """Runs above ``after_run`` the agency announced ready and still holds ready."""
        base = (services.settings.public_url or "").rstrip("/")
        with services.store.read() as tx:
            enabled = signals_enabled(services, tx)
            candidates = tx.signals.ready_after(after_run, MAX_SIGNALS) if enabled else []
            ready_runs = {
                record.run
                for record in tx.states.list_runs(Verdict.READY, run_min=after_run + 1, limit=None)
            }
            latest = {run: tx.signals.for_run(run)[-1] for run in {s.run for s in candidates}}
            queue = queue_of(tx.states.queued_runs())
        signals = [
            ReadinessSignal(
                run=item.run,
                verdict="ready",
                idempotency_key=item.idempotency_key,
                decided_at=item.decided_at,
                evidence_url=f"{base}/api/v1/runs/{item.run}",
            )
            for run, item in sorted(latest.items())
            if item.verdict is Verdict.READY and run in ready_runs
        ]
        return Readiness(
            generated_at=services.clock.now(),
            signals=signals,
            signals_enabled=enabled,
            dry_run=services.dry_run,
            held_by=queue.head.run if queue.head is not None and queue.held else None,
        )

    @api.get("/queue", response_model=Queue)
    def queue() -> Queue:
        """Which run holds back the ready runs behind it, why, and since when."""
        with services.store.read() as tx:
            found = queue_of(tx.states.queued_runs())
        head = found.head
        return Queue(
            generated_at=services.clock.now(),
            head=None
            if head is None
            else QueueHead(
                run=head.run,
                verdict=head.verdict.value,
                reasons=list(head.reasons),
                verdict_since=head.verdict_since,
            ),
            held_runs=list(found.held),
            holding_since=found.holding_since,
        )

    return api
