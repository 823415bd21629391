"""The pages' action forms, working as plain HTML form posts (no JavaScript needed).

Routes (each ``application/x-www-form-urlencoded``, with the session's ``csrf_token``):

- ``POST /runs/{run}/overrides`` (``kind``, ``workflow``, ``why``, ``expires_in_hours``);
- ``POST /overrides/{override_id}/revoke`` (``reason``);
- ``POST /alerts/{alert_id}/ack`` (``note``, optional);
- ``POST /control/signals`` (``enabled``, ``reason``).

Each post goes through the steps below, then answers with a redirect (303) back to the page it
came from (``next``, a path on this site) carrying a one-time notice of what happened:

1. who is calling (from the session cookie or token, before the body is read): nobody is sent
   to the login page (nothing is done, nothing parsed);
2. the CSRF token: a wrong or missing one is refused with a 403 page (nothing is done, no
   redirect: such a post did not come from our page);
3. the fields are validated with the API's own schemas;
4. the action itself is ``web.actions``, the code the JSON API runs: the role check (asking
   ``authorization``), the change and its audit entry, the wake-up of live pages.

A refusal at steps 3 or 4 (role too low, unknown alert, bad field) is the notice, in red.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from spyagency.web import actions
from spyagency.web.auth_routes import safe_next
from spyagency.web.pages.presentation import when
from spyagency.web.pages.rendering import (
    Notice,
    PageKit,
    leave_notice,
    read_banner,
    viewer_of,
)
from spyagency.web.params import RecordId, RunNumber
from spyagency.web.schemas.alerts import Acknowledgement
from spyagency.web.schemas.control import SignalSwitch
from spyagency.web.schemas.overrides import NewOverride, Withdrawal
from spyagency.web.security import Principal, check_csrf, current_principal

DEFAULT_HOURS = "12"
Act = Callable[[Principal], Awaitable[str]]


async def form_fields(request: Request) -> dict[str, str]:
    """The posted fields (first value of each; blank ones kept, as empty strings)."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    parsed = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def explain(error: ValidationError) -> str:
    """Validation errors as one line people can read: ``why: String should have...``."""
    parts = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        parts.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
    return "; ".join(parts)


def add_routes(api: APIRouter, kit: PageKit) -> None:
    services = kit.services

    async def refused_csrf(request: Request) -> Response:
        def render() -> Response:
            viewer = viewer_of(request, services.settings.open_read)
            with services.store.read() as tx:
                banner = read_banner(tx, services, services.clock.now())
            return kit.page(request, "refused.html", viewer, banner, status=403)

        return await run_in_threadpool(render)

    async def act(request: Request, default_back: str, action: Act) -> Response:
        """Run ``action`` for the caller of a form post; see the module's steps."""
        # Who is calling comes first, from the cookie or token alone: an anonymous post is
        # sent away without its body ever being read.
        principal = await run_in_threadpool(current_principal, request)
        if principal is None:
            return RedirectResponse(f"/auth/login?next={quote(default_back, safe='')}", 303)
        try:
            await check_csrf(request, principal)
        except HTTPException:
            return await refused_csrf(request)
        fields = await form_fields(request)
        back = safe_next(fields.get("next") or default_back)
        try:
            notice = Notice(await action(principal), ok=True)
        except HTTPException as refusal:
            notice = Notice(f"Refused: {refusal.detail}", ok=False)
        except ValidationError as error:
            notice = Notice(f"Refused: {explain(error)}", ok=False)
        answer = RedirectResponse(back, 303)
        leave_notice(request, answer, notice)
        return answer

    @api.post("/runs/{run}/overrides", include_in_schema=False)
    async def place_override(request: Request, run: RunNumber) -> Response:
        async def place(principal: Principal) -> str:
            fields = await form_fields(request)
            wanted = NewOverride.model_validate(
                {
                    "run": run,
                    "kind": fields.get("kind", ""),
                    "workflow": fields.get("workflow") or None,
                    "why": fields.get("why", ""),
                    "expires_in_hours": fields.get("expires_in_hours") or DEFAULT_HOURS,
                }
            )
            item = (await actions.place_override(services, principal, wanted)).override
            return (
                f"Override {item.kind.value} placed on run {item.run} "
                f"(#{item.id}), in force until {when(item.expires_at)}."
            )

        return await act(request, f"/runs/{run}", place)

    @api.post("/overrides/{override_id}/revoke", include_in_schema=False)
    async def revoke_override(request: Request, override_id: RecordId) -> Response:
        async def revoke(principal: Principal) -> str:
            fields = await form_fields(request)
            wanted = Withdrawal.model_validate({"reason": fields.get("reason", "")})
            record = await actions.withdraw_override(services, principal, override_id, wanted)
            item = record.override
            return f"Override {item.kind.value} (#{item.id}) on run {item.run} revoked."

        return await act(request, "/", revoke)

    @api.post("/alerts/{alert_id}/ack", include_in_schema=False)
    async def acknowledge_alert(request: Request, alert_id: RecordId) -> Response:
        async def acknowledge(principal: Principal) -> str:
            fields = await form_fields(request)
            wanted = Acknowledgement.model_validate({"note": fields.get("note") or None})
            alert = await actions.acknowledge_alert(services, principal, alert_id, wanted)
            return f"Alert #{alert.id} ({alert.kind}) acknowledged."

        return await act(request, "/alerts", acknowledge)

    @api.post("/control/signals", include_in_schema=False)
    async def switch_signals(request: Request) -> Response:
        async def switch(principal: Principal) -> str:
            fields = await form_fields(request)
            wanted = SignalSwitch.model_validate(
                {"enabled": fields.get("enabled", ""), "reason": fields.get("reason", "")}
            )
            await actions.switch_signals(services, principal, wanted)
            state = "back ON" if wanted.enabled else "OFF"
            return f"Signals to the Tier-0 switched {state}."

        return await act(request, "/", switch)
