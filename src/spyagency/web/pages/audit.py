"""The audit page: who did what to which target, newest first, paged by id.

Route: ``GET /audit`` (``before`` pages on).
"""

from __future__ import annotations

from fastapi import APIRouter

from spyagency.store.audit import AuditEntry
from spyagency.store.uow import Transaction
from spyagency.web.pages.rendering import PageKit, add_paged_list


def _entries(tx: Transaction, limit: int, before: int | None) -> list[AuditEntry]:
    return tx.audit.list(limit=limit, before_id=before)


def _entry_id(entry: AuditEntry) -> int:
    return entry.id


def add_routes(api: APIRouter, kit: PageKit) -> None:
    add_paged_list(api, kit, "/audit", "audit.html", _entries, _entry_id)
