"""The audit log, page by page; every action writes to it through ``web.actions.log``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from spyagency.web.authorization import Action
from spyagency.web.paging import keyset_page
from spyagency.web.params import MAX_ID
from spyagency.web.schemas.audit import AuditEntry, AuditPage
from spyagency.web.security import require
from spyagency.web.services import WebServices


def router(services: WebServices) -> APIRouter:
    api = APIRouter(tags=["audit"], dependencies=[Depends(require(Action.READ))])

    @api.get("/audit", response_model=AuditPage)
    def list_audit(
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    ) -> AuditPage:
        """Newest first; page on with ``before_id=next_before_id``."""
        with services.store.read() as tx:
            entries = tx.audit.list(limit + 1, before_id)
        page = keyset_page(entries, limit, lambda entry: entry.id)
        return AuditPage(
            items=[
                AuditEntry(
                    id=entry.id,
                    at=entry.at,
                    actor=entry.actor,
                    action=entry.action,
                    target=entry.target,
                    detail=entry.detail,
                )
                for entry in page.items
            ],
            next_before_id=page.next_before,
        )

    return api
