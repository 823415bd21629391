"""The signal kill switch: experts stop (or resume) every readiness signal to the Tier-0."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from spyagency.store.controls import SIGNALS_ENABLED
from spyagency.web import actions
from spyagency.web.api.readiness import signals_enabled
from spyagency.web.authorization import Action
from spyagency.web.schemas.control import SignalControl, SignalSwitch
from spyagency.web.security import Principal, require, require_actor
from spyagency.web.services import WebServices


def router(services: WebServices) -> APIRouter:
    api = APIRouter(tags=["control"])

    def current() -> SignalControl:
        with services.store.read() as tx:
            switch = tx.controls.get(SIGNALS_ENABLED)
            effective = signals_enabled(services, tx)
        return SignalControl(
            signals_enabled=effective,
            configured=services.signals_configured,
            switch=switch is None or bool(switch.value),
            changed_by=switch.changed_by if switch else None,
            changed_at=switch.changed_at if switch else None,
            reason=switch.reason if switch else None,
            dry_run=services.dry_run,
        )

    @api.get(
        "/control/signals",
        response_model=SignalControl,
        dependencies=[Depends(require(Action.READ))],
    )
    def get_signals() -> SignalControl:
        """Whether readiness signals go out, and who last flipped the switch, when and why."""
        return current()

    @api.post("/control/signals", response_model=SignalControl)
    async def set_signals(
        body: SignalSwitch,
        principal: Annotated[Principal, Depends(require_actor(Action.SET_SIGNALS))],
    ) -> SignalControl:
        """Experts only. Turning signals off empties the readiness list at once."""
        await actions.switch_signals(services, principal, body)
        return await run_in_threadpool(current)

    return api
