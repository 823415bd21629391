"""Expert overrides: force a run ready, hold it, or excuse one workflow; always with who, why
and an expiry, audited, and followed by an immediate re-evaluation of the run."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from starlette.concurrency import run_in_threadpool

from spyagency.domain.overrides import Override, OverrideKind
from spyagency.store.events import EventKind
from spyagency.store.overrides import OverrideRecord
from spyagency.web import schemas
from spyagency.web.api import conversions
from spyagency.web.api.audit import MAX_ID, log
from spyagency.web.api.runs import MAX_RUN
from spyagency.web.authorization import Action, give_override, revoke_override
from spyagency.web.security import Principal, ensure_may, require, require_actor
from spyagency.web.services import WebServices

ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": schemas.Problem, "description": "your role may not give this override"},
    404: {"model": schemas.Problem, "description": "no such override"},
    409: {"model": schemas.Problem, "description": "the override is already revoked"},
    422: {"model": schemas.Problem, "description": "an inconsistent override"},
}


def router(services: WebServices) -> APIRouter:
    api = APIRouter(tags=["overrides"])

    async def after_change(run: int) -> None:
        """Let pages see the change now and the verdict follow it without waiting a cycle."""
        await services.changes.notify()
        if services.engine is not None:
            await services.engine.reevaluate([run])

    @api.get(
        "/overrides",
        response_model=list[schemas.Override],
        dependencies=[Depends(require(Action.READ))],
    )
    def list_overrides(
        run: Annotated[int | None, Query(ge=1, le=MAX_RUN)] = None,
    ) -> list[schemas.Override]:
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

    @api.post("/overrides", response_model=schemas.Override, status_code=201, responses=ERRORS)
    async def create_override(
        body: schemas.NewOverride,
        principal: Annotated[Principal, Depends(require_actor(Action.HOLD))],
    ) -> schemas.Override:
        """hold: operator or expert; force_ready and ignore_workflow: expert only."""
        action = give_override(body.kind)
        ensure_may(principal, action)
        if (body.kind is OverrideKind.IGNORE_WORKFLOW) != (body.workflow is not None):
            raise HTTPException(422, "name a workflow for ignore_workflow, and only for it")
        if body.workflow is not None and services.catalogue.by_name(body.workflow) is None:
            raise HTTPException(422, f"unknown workflow {body.workflow!r}")
        now = services.clock.now()
        try:
            wanted = Override(
                run=body.run,
                kind=body.kind,
                who=principal.name,
                why=body.why.strip(),
                created_at=now,
                expires_at=now + timedelta(hours=body.expires_in_hours),
                workflow=body.workflow,
            )
        except ValueError as error:
            raise HTTPException(422, str(error)) from None

        def store_it() -> Override:
            with services.store.transaction() as tx:
                saved = tx.overrides.add(wanted)
                detail = {"id": saved.id, "kind": saved.kind.value, "why": saved.why}
                if saved.workflow:
                    detail["workflow"] = saved.workflow
                detail["expires_at"] = saved.expires_at.isoformat()
                log(tx, now, principal, action, f"run:{saved.run}", detail)
                tx.events.append(
                    now,
                    EventKind.OVERRIDE,
                    run=saved.run,
                    workflow=saved.workflow,
                    new=saved.kind.value,
                    detail={"id": saved.id, "who": saved.who, "why": saved.why},
                )
            return saved

        saved = await run_in_threadpool(store_it)
        await after_change(saved.run)
        return conversions.override(OverrideRecord(saved), now)

    @api.post("/overrides/{override_id}/revoke", response_model=schemas.Override, responses=ERRORS)
    async def revoke(
        override_id: Annotated[int, Path(ge=1, le=MAX_ID)],
        principal: Annotated[Principal, Depends(require_actor(Action.REVOKE_HOLD))],
    ) -> schemas.Override:
        """Withdraw an override from now on; it stays in the history."""
        now = services.clock.now()

        def revoke_it() -> OverrideRecord:
            with services.store.transaction() as tx:
                found = tx.overrides.get(override_id)
                if found is None:
                    raise HTTPException(404, f"override {override_id} does not exist")
                action = revoke_override(found.override.kind)
                ensure_may(principal, action)
                if not tx.overrides.revoke(override_id, principal.name, now):
                    raise HTTPException(409, f"override {override_id} is already revoked")
                run = found.override.run
                log(tx, now, principal, action, f"run:{run}", {"id": override_id})
                tx.events.append(
                    now,
                    EventKind.OVERRIDE,
                    run=run,
                    workflow=found.override.workflow,
                    old=found.override.kind.value,
                    new="revoked",
                    detail={"id": override_id, "who": principal.name},
                )
                revoked = tx.overrides.get(override_id)
            assert revoked is not None
            return revoked

        record = await run_in_threadpool(revoke_it)
        await after_change(record.override.run)
        return conversions.override(record, now)

    return api
