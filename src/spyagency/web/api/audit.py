"""The audit log: read it page by page; every action of the API writes to it through ``log``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from spyagency.store.uow import Transaction
from spyagency.web import schemas
from spyagency.web.authorization import Action
from spyagency.web.security import Principal, require
from spyagency.web.services import WebServices

MAX_ID = 2**62


def log(
    tx: Transaction,
    at: datetime,
    actor: Principal,
    action: Action,
    target: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry in the caller's transaction, so the action and its record commit
    together. How the actor proved who they are is part of the record."""
    tx.audit.append(at, actor.name, action.value, target, {"via": actor.via, **(detail or {})})


def router(services: WebServices) -> APIRouter:
    api = APIRouter(tags=["audit"], dependencies=[Depends(require(Action.READ))])

    @api.get("/audit", response_model=schemas.AuditPage)
    def list_audit(
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    ) -> schemas.AuditPage:
        """Newest first; page on with ``before_id=next_before_id``."""
        with services.store.read() as tx:
            entries = tx.audit.list(limit + 1, before_id)
        page = entries[:limit]
        return schemas.AuditPage(
            items=[
                schemas.AuditEntry(
                    id=entry.id,
                    at=entry.at,
                    actor=entry.actor,
                    action=entry.action,
                    target=entry.target,
                    detail=entry.detail,
                )
                for entry in page
            ],
            next_before_id=page[-1].id if len(entries) > limit else None,
        )

    return api
