"""What people do to the agency: place or revoke an override, acknowledge an alert, flip the
signal kill switch. One implementation, called by the JSON API and by the pages' plain HTML
forms alike, so both paths take the same decisions and leave the same records:

1. the caller's role is checked for the exact action (``security.ensure_may``, which asks
   ``authorization``: the one module that decides);
2. the change and its audit entry are written in one transaction (both or neither);
3. the live pages are woken (the change feed) and, for overrides, the engine re-judges the
   run at once instead of at its next cycle.

A refusal is an ``HTTPException`` (status and a message for people); the API sends it as
``{"detail": ...}``, a form shows it as a notice on the page it came from.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from spyagency.domain.overrides import Override, OverrideKind
from spyagency.store.alerts import Alert
from spyagency.store.controls import SIGNALS_ENABLED
from spyagency.store.events import EventKind
from spyagency.store.overrides import OverrideRecord
from spyagency.store.uow import Transaction
from spyagency.web.authorization import Action, give_override, revoke_override
from spyagency.web.schemas.alerts import Acknowledgement
from spyagency.web.schemas.control import SignalSwitch
from spyagency.web.schemas.overrides import NewOverride, Withdrawal
from spyagency.web.security import Principal, ensure_may
from spyagency.web.services import WebServices


def log(
    tx: Transaction,
    at: datetime,
    actor: Principal,
    action: Action,
    target: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry in the caller's transaction, so the action and its record
    commit together. How the actor proved who they are is part of the record."""
    tx.audit.append(at, actor.name, action.value, target, {"via": actor.via, **(detail or {})})


async def _after_run_change(services: WebServices, run: int) -> None:
    """Let pages see the change now and the verdict follow it without waiting a cycle."""
    await services.changes.notify()
    if services.engine is not None:
        await services.engine.reevaluate([run])


async def place_override(
    services: WebServices, principal: Principal, wanted: NewOverride
) -> OverrideRecord:
    """hold: operator or expert; force_ready and ignore_workflow: expert only."""
    action = give_override(wanted.kind)
    ensure_may(principal, action)
    if (wanted.kind is OverrideKind.IGNORE_WORKFLOW) != (wanted.workflow is not None):
        raise HTTPException(422, "name a workflow for ignore_workflow, and only for it")
    if wanted.workflow is not None and services.catalogue.by_name(wanted.workflow) is None:
        raise HTTPException(422, f"unknown workflow {wanted.workflow!r}")
    now = services.clock.now()
    try:
        override = Override(
            run=wanted.run,
            kind=wanted.kind,
            who=principal.name,
            why=wanted.why.strip(),
            created_at=now,
            expires_at=now + timedelta(hours=wanted.expires_in_hours),
            workflow=wanted.workflow,
        )
    except ValueError as error:
        raise HTTPException(422, str(error)) from None

    def store_it() -> Override:
        with services.store.transaction() as tx:
            # An override is about a run the agency judges: on any other number it would
            # create a run nobody knows, later judged missed with a critical alert.
            if tx.states.get_run(override.run) is None:
                raise HTTPException(
                    404, f"run {override.run} is not known to the agency: nothing to override"
                )
            saved = tx.overrides.add(override)
            detail: dict[str, Any] = {"id": saved.id, "kind": saved.kind.value, "why": saved.why}
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
    await _after_run_change(services, saved.run)
    return OverrideRecord(saved)


async def withdraw_override(
    services: WebServices, principal: Principal, override_id: int, wanted: Withdrawal
) -> OverrideRecord:
    """Withdraw an override from now on (it stays in the history), saying why. Revoking needs
    the role that giving that kind needs."""
    now = services.clock.now()
    reason = wanted.reason.strip()

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
            log(tx, now, principal, action, f"run:{run}", {"id": override_id, "why": reason})
            tx.events.append(
                now,
                EventKind.OVERRIDE,
                run=run,
                workflow=found.override.workflow,
                old=found.override.kind.value,
                new="revoked",
                detail={"id": override_id, "who": principal.name, "why": reason},
            )
            revoked = tx.overrides.get(override_id)
        if revoked is None:  # written in the same transaction: cannot vanish
            raise HTTPException(500, "internal error")
        return revoked

    record = await run_in_threadpool(revoke_it)
    await _after_run_change(services, record.override.run)
    return record


async def acknowledge_alert(
    services: WebServices,
    principal: Principal,
    alert_id: int,
    wanted: Acknowledgement | None = None,
) -> Alert:
    """Silence an open alert while the state it describes lasts (operators and experts); an
    optional note says what is being done about it."""
    ensure_may(principal, Action.ACK_ALERT)
    now = services.clock.now()
    note = wanted.note.strip() if wanted is not None and wanted.note is not None else None

    def acknowledge() -> Alert:
        with services.store.transaction() as tx:
            current = tx.alerts.get(alert_id)
            if current is None:
                raise HTTPException(404, f"alert {alert_id} does not exist")
            if current.acknowledged and current.acknowledged_state == current.state:
                # The first acknowledgement stands: who took it on is what others need.
                raise HTTPException(
                    409,
                    f"alert {alert_id} is already acknowledged by {current.acknowledged_by}",
                )
            if not tx.alerts.acknowledge(alert_id, principal.name, now):
                raise HTTPException(409, f"alert {alert_id} is resolved; nothing to acknowledge")
            detail = {"kind": current.kind} | ({"note": note} if note else {})
            log(tx, now, principal, Action.ACK_ALERT, f"alert:{alert_id}", detail)
            acknowledged = tx.alerts.get(alert_id)
        if acknowledged is None:  # written in the same transaction: cannot vanish
            raise HTTPException(500, "internal error")
        return acknowledged

    acknowledged = await run_in_threadpool(acknowledge)
    await services.changes.notify()
    return acknowledged


async def switch_signals(services: WebServices, principal: Principal, wanted: SignalSwitch) -> None:
    """Experts only. Turning signals off empties the readiness list at once."""
    ensure_may(principal, Action.SET_SIGNALS)
    now = services.clock.now()
    reason = wanted.reason.strip() or wanted.reason

    def flip() -> None:
        with services.store.transaction() as tx:
            tx.controls.set(SIGNALS_ENABLED, wanted.enabled, principal.name, now, reason)
            detail = {"enabled": wanted.enabled, "reason": reason}
            log(tx, now, principal, Action.SET_SIGNALS, SIGNALS_ENABLED, detail)

    await run_in_threadpool(flip)
    await services.changes.notify()
