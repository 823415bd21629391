"""The alerts page: open alerts (with an acknowledge button for those allowed) and the
history, paged by id.

Route: ``GET /alerts`` (``before`` pages the history on).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from spyagency.store.alerts import Alert
from spyagency.store.uow import Transaction
from spyagency.web.pages.kit import PageKit
from spyagency.web.pages.paged import add_paged_list


def _history(tx: Transaction, limit: int, before: int | None) -> list[Alert]:
    return tx.alerts.history(limit=limit, before_id=before)


def _open_alerts(tx: Transaction) -> dict[str, Any]:
    return {"open_alerts": tx.alerts.open_alerts()}


def _alert_id(alert: Alert) -> int:
    return alert.id


def add_routes(api: APIRouter, kit: PageKit) -> None:
    add_paged_list(api, kit, "/alerts", "alerts.html", _history, _alert_id, _open_alerts)
