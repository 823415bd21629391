"""Upstream sources: when each last answered, its last error with the raw text, staleness."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from spyagency.domain.health import SourceHealth
from spyagency.domain.states import Source
from spyagency.store.poll_history import KEEP
from spyagency.web import plot_answers
from spyagency.web.authorization import Action
from spyagency.web.schemas.sources import SourceHistory, SourceStatus
from spyagency.web.security import require
from spyagency.web.services import WebServices

DEFAULT_STALE_AFTER = timedelta(minutes=30)
HISTORY_DAYS = 7


def router(services: WebServices) -> APIRouter:
    api = APIRouter(tags=["sources"], dependencies=[Depends(require(Action.READ))])

    @api.get("/sources", response_model=list[SourceStatus])
    def list_sources() -> list[SourceStatus]:
        """Every source the agency knows, heard from or not (never heard from = stale)."""
        with services.store.read() as tx:
            known = tx.health.all()
        now = services.clock.now()
        policy = services.policy
        shown = []
        for source in Source:
            health = known.get(source, SourceHealth(source))
            threshold = policy.stale_after.get(source, DEFAULT_STALE_AFTER)
            shown.append(
                SourceStatus(
                    source=source,
                    last_success=health.last_success,
                    last_attempt=health.last_attempt,
                    last_error=health.last_error,
                    last_error_at=health.last_error_at,
                    last_error_raw=health.last_error_raw,
                    consecutive_failures=health.consecutive_failures,
                    stale=health.is_stale(now, threshold),
                    stale_after_minutes=threshold / timedelta(minutes=1),
                    critical=source in policy.critical_sources,
                )
            )
        return shown

    @api.get("/sources/history", response_model=SourceHistory)
    def source_history(
        days: Annotated[int, Query(ge=1, le=KEEP.days)] = HISTORY_DAYS,
    ) -> SourceHistory:
        """Successful and failed polls of each source, hour by hour, over the last days."""
        with services.store.read() as tx:
            return plot_answers.source_history(tx, services.clock.now(), days)

    return api
