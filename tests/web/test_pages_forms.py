"""The pages' action forms as plain HTML form posts (no JavaScript): the CSRF token is checked,
the role decided by ``authorization``, the action audited, and the browser sent back to the
page with a one-time notice of what happened."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx2
import pytest

from spyagency.store.controls import SIGNALS_ENABLED
from spyagency.web.pages.rendering import NOTICE_COOKIE
from spyagency.web.security import SESSION_COOKIE, SignedCookie, secret_for
from tests.web.page_world import (
    PENDING,
    READY,
    World,
    client_for,
    make_world,
    pages_app,
    text_between,
)

CSRF = "form-csrf-token"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
OPEN_ALERT = 1  # the seeded upload failure of BLOCKED
HOLD_ON_PENDING = 1  # the seeded hold placed by alice


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path, secret_key="forms-test-secret")


@asynccontextmanager
async def browser_as(world: World, name: str, role: str) -> AsyncIterator[httpx2.AsyncClient]:
    """A client holding a logged-in session cookie, as a browser after the OIDC login."""
    codec = SignedCookie(secret_for(world.services.settings), "session")
    session = codec.dump({"name": name, "role": role, "csrf": CSRF}, 600)
    async with client_for(pages_app(world.services)) as client:
        client.cookies.set(SESSION_COOKIE, session)
        yield client


async def post_form(
    client: httpx2.AsyncClient, path: str, fields: dict[str, str], csrf: str | None = CSRF
) -> httpx2.Response:
    body = dict(fields) | ({"csrf_token": csrf} if csrf is not None else {})
    return await client.post(path, content=urlencode(body).encode(), headers=FORM)


def audit_actions(world: World) -> list[tuple[str, str, str]]:
    with world.store.read() as tx:
        return [(entry.actor, entry.action, entry.target) for entry in tx.audit.list(100)]


def notice_of(html: str) -> str:
    return text_between(html, '<p class="notice', "</p>")


HOLD = {"kind": "hold", "why": "beam spot <odd>", "expires_in_hours": "4"}


async def test_an_operator_places_a_hold_with_a_plain_form(world: World) -> None:
    async with browser_as(world, "olga", "operator") as client:
        posted = await post_form(client, f"/runs/{READY}/overrides", HOLD)
        assert posted.status_code == 303
        assert posted.headers["location"] == f"/runs/{READY}"
        shown = await client.get(posted.headers["location"])
        again = await client.get(f"/runs/{READY}")
    notice = notice_of(shown.text)
    assert "notice-ok" in notice and f"Override hold placed on run {READY}" in notice
    overrides = text_between(shown.text, 'id="overrides-h"', "</section>")
    assert "beam spot &lt;odd&gt;" in overrides and "olga" in overrides
    # Shown once: the page that showed it cleared the cookie.
    assert f"{NOTICE_COOKIE}=" in shown.headers["set-cookie"]
    assert '<p class="notice' not in again.text
    assert ("olga", "override.hold", f"run:{READY}") in audit_actions(world)
    with world.store.read() as tx:
        (entry,) = [e for e in tx.audit.list(100) if e.actor == "olga"]
    assert entry.detail["via"] == "session" and entry.detail["why"] == "beam spot <odd>"
    assert world.services.engine is not None
    assert [READY] in world.services.engine.asked  # type: ignore[attr-defined]


async def test_a_role_too_low_is_refused_with_a_notice_and_nothing_changes(
    world: World,
) -> None:
    force = HOLD | {"kind": "force_ready"}
    async with browser_as(world, "olga", "operator") as client:
        posted = await post_form(client, f"/runs/{READY}/overrides", force)
        shown = await client.get(posted.headers["location"])
    assert posted.status_code == 303 and posted.headers["location"] == f"/runs/{READY}"
    notice = notice_of(shown.text)
    assert "notice-error" in notice and 'role="alert"' in notice
    assert "may not do override.force_ready" in notice
    with world.store.read() as tx:
        assert tx.overrides.for_run(READY) == []
    assert not [row for row in audit_actions(world) if row[0] == "olga"]


@pytest.mark.parametrize("csrf", [None, "", "another-token"])
async def test_a_wrong_or_missing_csrf_token_is_refused_and_nothing_changes(
    world: World, csrf: str | None
) -> None:
    async with browser_as(world, "erik", "expert") as client:
        placed = await post_form(client, f"/runs/{READY}/overrides", HOLD, csrf=csrf)
        acked = await post_form(client, f"/alerts/{OPEN_ALERT}/ack", {}, csrf=csrf)
        switched = await post_form(
            client, "/control/signals", {"enabled": "false", "reason": "x"}, csrf=csrf
        )
    for answer in (placed, acked, switched):
        assert answer.status_code == 403
        assert "Refused: nothing was changed" in answer.text
        assert "location" not in answer.headers
    with world.store.read() as tx:
        assert tx.overrides.for_run(READY) == []
        assert tx.alerts.get(OPEN_ALERT).acknowledged_by is None  # type: ignore[union-attr]
        assert tx.controls.get(SIGNALS_ENABLED) is None
    assert not [row for row in audit_actions(world) if row[0] == "erik"]


async def test_an_anonymous_post_is_sent_to_the_login_and_does_nothing(world: World) -> None:
    async with client_for(pages_app(world.services)) as client:
        posted = await post_form(client, f"/alerts/{OPEN_ALERT}/ack", {}, csrf=None)
    assert posted.status_code == 303
    assert posted.headers["location"] == "/auth/login?next=%2Falerts"
    with world.store.read() as tx:
        assert tx.alerts.get(OPEN_ALERT).acknowledged_by is None  # type: ignore[union-attr]


async def test_an_anonymous_post_is_turned_away_before_its_body_is_read(world: World) -> None:
    read: list[bytes] = []

    async def body() -> AsyncIterator[bytes]:
        read.append(b"x")
        yield urlencode({"reason": "x" * 4000}).encode()

    async with client_for(pages_app(world.services)) as client:
        posted = await client.post(
            f"/overrides/{HOLD_ON_PENDING}/revoke", content=body(), headers=FORM
        )
    assert posted.status_code == 303 and posted.headers["location"].startswith("/auth/login")
    assert read == []


async def test_an_acknowledgement_keeps_its_note_in_the_audit_log(world: World) -> None:
    async with browser_as(world, "olga", "operator") as client:
        await post_form(client, f"/alerts/{OPEN_ALERT}/ack", {"note": " re-running the upload "})
    with world.store.read() as tx:
        entry = next(e for e in tx.audit.list(100) if e.action == "alert.ack")
    assert entry.detail["note"] == "re-running the upload"


async def test_revoking_from_the_page_needs_a_reason(world: World) -> None:
    async with browser_as(world, "olga", "operator") as client:
        fields = {"next": f"/runs/{PENDING}", "reason": "\u200b "}
        posted = await post_form(client, f"/overrides/{HOLD_ON_PENDING}/revoke", fields)
        shown = await client.get(posted.headers["location"])
    assert "Refused: reason:" in notice_of(shown.text)
    with world.store.read() as tx:
        assert tx.overrides.get(HOLD_ON_PENDING).revoked_by is None  # type: ignore[union-attr]


async def test_an_operator_acknowledges_an_alert_and_a_viewer_may_not(world: World) -> None:
    async with browser_as(world, "vera", "viewer") as client:
        refused = await post_form(client, f"/alerts/{OPEN_ALERT}/ack", {})
        refused_page = await client.get(refused.headers["location"])
    assert "may not do alert.ack" in notice_of(refused_page.text)
    async with browser_as(world, "olga", "operator") as client:
        done = await post_form(client, f"/alerts/{OPEN_ALERT}/ack", {})
        done_page = await client.get(done.headers["location"])
    assert done.headers["location"] == "/alerts"
    assert f"Alert #{OPEN_ALERT} (failed) acknowledged." in notice_of(done_page.text)
    assert "acknowledged by olga" in text_between(done_page.text, 'id="open-h"', "</section>")
    actions = audit_actions(world)
    assert ("olga", "alert.ack", f"alert:{OPEN_ALERT}") in actions
    assert not [row for row in actions if row[0] == "vera"]


async def test_an_expert_pulls_the_kill_switch_and_the_banner_shows_it_at_once(
    world: World,
) -> None:
    async with browser_as(world, "olga", "operator") as client:
        refused = await post_form(client, "/control/signals", {"enabled": "false", "reason": "x"})
        refused_page = await client.get(refused.headers["location"])
    assert "may not do control.signals" in notice_of(refused_page.text)
    async with browser_as(world, "erik", "expert") as client:
        before = await client.get("/")
        assert "Signals to the Tier-0 are OFF" not in before.text
        fields = {"enabled": "false", "reason": "CondDB migration"}
        posted = await post_form(client, "/control/signals", fields)
        dashboard = await client.get(posted.headers["location"])
        cached = await client.get("/")
    assert posted.headers["location"] == "/"
    assert "Signals to the Tier-0 switched OFF." in notice_of(dashboard.text)
    # The dashboard's cached look at the store is refreshed by the action, not 0.25 s later.
    assert "Kill switch pulled by erik" in dashboard.text and "CondDB migration" in dashboard.text
    assert '<p class="notice' not in cached.text and "Kill switch pulled by erik" in cached.text
    with world.store.read() as tx:
        switch = tx.controls.get(SIGNALS_ENABLED)
    assert switch is not None and switch.value is False and switch.changed_by == "erik"
    assert ("erik", "control.signals", SIGNALS_ENABLED) in audit_actions(world)


async def test_an_operator_revokes_a_hold_back_on_the_run_page(world: World) -> None:
    async with browser_as(world, "olga", "operator") as client:
        fields = {"next": f"/runs/{PENDING}", "reason": "the payload is in"}
        posted = await post_form(client, f"/overrides/{HOLD_ON_PENDING}/revoke", fields)
        shown = await client.get(posted.headers["location"])
        again = await post_form(client, f"/overrides/{HOLD_ON_PENDING}/revoke", fields)
        again_page = await client.get(again.headers["location"])
    assert posted.headers["location"] == f"/runs/{PENDING}"
    assert f"(#{HOLD_ON_PENDING}) on run {PENDING} revoked" in notice_of(shown.text)
    assert "already revoked" in notice_of(again_page.text)
    assert ("olga", "override.revoke.hold", f"run:{PENDING}") in audit_actions(world)


async def test_bad_fields_are_refused_with_what_was_wrong(world: World) -> None:
    async with browser_as(world, "erik", "expert") as client:
        blank = await post_form(client, f"/runs/{READY}/overrides", HOLD | {"why": ""})
        blank_page = await client.get(blank.headers["location"])
        unnamed = await post_form(client, f"/runs/{READY}/overrides", HOLD | {"kind": "ignore"})
        unnamed_page = await client.get(unnamed.headers["location"])
        no_workflow = HOLD | {"kind": "ignore_workflow", "workflow": ""}
        missing = await post_form(client, f"/runs/{READY}/overrides", no_workflow)
        missing_page = await client.get(missing.headers["location"])
    assert "Refused: why:" in notice_of(blank_page.text)
    assert "Refused: kind:" in notice_of(unnamed_page.text)
    assert "name a workflow for ignore_workflow" in notice_of(missing_page.text)
    with world.store.read() as tx:
        assert tx.overrides.for_run(READY) == []


async def test_the_way_back_stays_on_this_site(world: World) -> None:
    async with browser_as(world, "olga", "operator") as client:
        for target in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
            posted = await post_form(client, f"/alerts/{OPEN_ALERT}/ack", {"next": target})
            assert posted.headers["location"] == "/", target


async def test_a_forged_notice_is_not_shown(world: World) -> None:
    forged = SignedCookie(b"another key", "notice").dump({"text": "all is fine", "ok": True}, 60)
    async with client_for(pages_app(world.services)) as client:
        client.cookies.set(NOTICE_COOKIE, forged)
        page = await client.get("/alerts")
    assert "all is fine" not in page.text
