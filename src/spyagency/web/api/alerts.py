"""Alerts: what is wrong now, what was, and acknowledging (operators and experts)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from spyagency.store.alerts import Alert
from spyagency.web import actions
from spyagency.web.authorization import Action
from spyagency.web.paging import keyset_page
from spyagency.web.params import MAX_ID, RecordId
from spyagency.web.schemas import alerts as alert_schemas
from spyagency.web.schemas.base import Problem
from spyagency.web.security import Principal, require, require_actor
from spyagency.web.services import WebServices

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "no such alert"},
    409: {"model": Problem, "description": "the alert is already resolved"},
}


def shown(alert: Alert) -> alert_schemas.Alert:
    return alert_schemas.Alert(
        id=alert.id,
        dedupe_key=alert.dedupe_key,
        kind=alert.kind,
        severity=alert.severity,
        run=alert.run,
        workflow=alert.workflow,
        source=alert.source,
        message=alert.message,
        description=alert.description,
        state=alert.state,
        opened_at=alert.opened_at,
        last_seen_at=alert.last_seen_at,
        resolved_at=alert.resolved_at,
        acknowledged_by=alert.acknowledged_by,
        acknowledged_at=alert.acknowledged_at,
        is_open=alert.is_open,
    )


def router(services: WebServices) -> APIRouter:
    api = APIRouter(tags=["alerts"])

    @api.get(
        "/alerts", response_model=alert_schemas.Alerts, dependencies=[Depends(require(Action.READ))]
    )
    def list_alerts(
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    ) -> alert_schemas.Alerts:
        """Every open alert (oldest first), and a page of all alerts (newest first)."""
        with services.store.read() as tx:
            open_alerts = tx.alerts.open_alerts()
            history = tx.alerts.history(limit + 1, before_id)
        page = keyset_page(history, limit, lambda alert: alert.id)
        return alert_schemas.Alerts(
            open=[shown(alert) for alert in open_alerts],
            history=[shown(alert) for alert in page.items],
            next_before_id=page.next_before,
        )

    @api.post("/alerts/{alert_id}/ack", response_model=alert_schemas.Alert, responses=ERRORS)
    async def acknowledge(
        alert_id: RecordId,
        principal: Annotated[Principal, Depends(require_actor(Action.ACK_ALERT))],
        body: alert_schemas.Acknowledgement | None = None,
    ) -> alert_schemas.Alert:
        """Silence an open alert while the state it describes lasts; the optional ``note``
        (what is being done about it) goes to the audit log."""
        return shown(await actions.acknowledge_alert(services, principal, alert_id, body))

    return api
