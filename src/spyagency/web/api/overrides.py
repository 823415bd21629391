"""Expert overrides: force a run ready, hold it, or excuse one workflow; always with who, why
and an expiry, audited, and followed by an immediate re-evaluation of the run (the work is
in ``web.actions``, shared with the pages' forms)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from spyagency.store.overrides import OverrideRecord
from spyagency.web import actions
from spyagency.web.api import conversions
from spyagency.web.authorization import Action
from spyagency.web.params import MAX_RUN, RecordId
from spyagency.web.schemas.base import Problem
from spyagency.web.schemas.overrides import NewOverride, Override, Withdrawal
from spyagency.web.security import Principal, require, require_actor
from spyagency.web.services import WebServices

ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem, "description": "your role may not give this override"},
    404: {"model": Problem, "description": "no such override, or no such run"},
    409: {"model": Problem, "description": "the override is already revoked"},
    422: {"model": Problem, "description": "an inconsistent override, or no reason"},
}


def router(services: WebServices) -> APIRouter:
    api = APIRouter(tags=["overrides"])

    @api.get(
        "/overrides",
        response_model=list[Override],
        dependencies=[Depends(require(Action.READ))],
    )
    def list_overrides(
        run: Annotated[int | None, Query(ge=1, le=MAX_RUN)] = None,
    ) -> list[Override]:
        """With ``run``: every override that run ever had. Without: those in force or due."""
        now = services.clock.now()
        with services.store.read() as tx:
            if run is not None:
                records = tx.overrides.for_run(run)
            else:
                records = [
                    OverrideRecord(item)
                    for item in tx.overrides.all_in_force_or_expiring_after(now)
                ]
        return [conversions.override(record, now) for record in records]

    @api.post("/overrides", response_model=Override, status_code=201, responses=ERRORS)
    async def create_override(
        body: NewOverride,
        principal: Annotated[Principal, Depends(require_actor(Action.HOLD))],
    ) -> Override:
        """hold: operator or expert; force_ready and ignore_workflow: expert only."""
        record = await actions.place_override(services, principal, body)
        return conversions.override(record, services.clock.now())

    @api.post("/overrides/{override_id}/revoke", response_model=Override, responses=ERRORS)
    async def revoke(
        override_id: RecordId,
        body: Withdrawal,
        principal: Annotated[Principal, Depends(require_actor(Action.REVOKE_HOLD))],
    ) -> Override:
        """Withdraw an override from now on, saying why; it stays in the history."""
        record = await actions.withdraw_override(services, principal, override_id, body)
        return conversions.override(record, services.clock.now())

    return api
