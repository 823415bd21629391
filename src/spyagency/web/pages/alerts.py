"""The alerts page: open alerts (with an acknowledge button for those allowed) above the
resolved ones, paged by id. Each alert appears once: an open one is not history yet.

Route: ``GET /alerts`` (``before`` pages the resolved alerts on).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from spyagency.store.alerts import Alert
from spyagency.store.uow import Transaction
from spyagency.web.pages.rendering import PageKit, add_paged_list


def _resolved(tx: Transaction, limit: int, before: int | None) -> list[Alert]:
    """Up to ``limit`` resolved alerts below ``before``, newest first.

    The store pages all alerts; the open ones among them are skipped and the next batch read
    until the page is full, so a page is short only at the end of the history (the keyset
    pager reads one item more than it shows to know whether an older page exists)."""
    found: list[Alert] = []
    cursor = before
    while len(found) < limit:
        batch = tx.alerts.history(limit=limit, before_id=cursor)
        found.extend(item for item in batch if not item.is_open)
        if len(batch) < limit:
            break
        cursor = batch[-1].id
    return found[:limit]


def _open_alerts(tx: Transaction) -> dict[str, Any]:
    return {"open_alerts": tx.alerts.open_alerts()}


def _alert_id(alert: Alert) -> int:
    return alert.id


def add_routes(api: APIRouter, kit: PageKit) -> None:
    add_paged_list(api, kit, "/alerts", "alerts.html", _resolved, _alert_id, _open_alerts)
