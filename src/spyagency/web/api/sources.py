"""Upstream sources: when each last answered, its last error with the raw text, staleness."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends

from spyagency.domain.health import SourceHealth
from spyagency.domain.states import Source
from spyagency.web import schemas
from spyagency.web.authorization import Action
from spyagency.web.security import require
from spyagency.web.services import WebServices

DEFAULT_STALE_AFTER = timedelta(minutes=30)


def router(services: WebServices) -> APIRouter:
    api = APIRouter(tags=["sources"], dependencies=[Depends(require(Action.READ))])

    @api.get("/sources", response_model=list[schemas.SourceStatus])
    def list_sources() -> list[schemas.SourceStatus]:
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
                schemas.SourceStatus(
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

    return api
