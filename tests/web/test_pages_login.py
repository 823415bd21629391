"""Logging in, as a newcomer meets it: what a login gives, what to set when there is none,
and whose clock the page's times are on."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from spyagency.domain.clock import ScaledClock
from spyagency.web.abilities import ACTION_WORDS, UNWORDED, gained_at, login_offer
from spyagency.web.authorization import LEAST_ROLE, Role
from tests.web.api_world import World, client_for, make_world
from tests.web.page_world import text_between

HTML = {"accept": "text/html,application/xhtml+xml"}


def _world(tmp_path: Path, **settings: object) -> World:
    return make_world(f"sqlite:///{tmp_path / 'agency.db'}", **settings)


def test_every_action_is_worded_or_deliberately_not() -> None:
    assert set(ACTION_WORDS) | UNWORDED == set(LEAST_ROLE)
    assert not set(ACTION_WORDS) & UNWORDED
    assert gained_at(Role.VIEWER) == []
    assert login_offer() == (
        "Log in as an operator to acknowledge alerts and hold runs; "
        "as an expert to force runs ready, ignore workflows and use the kill switch."
    )


async def test_a_browser_asking_to_log_in_without_a_provider_is_told_what_to_set(
    tmp_path: Path,
) -> None:
    world = _world(tmp_path)
    async with client_for(world.services) as client:
        script = await client.get("/auth/login")
        browser = await client.get("/auth/login?next=/alerts", headers=HTML)
        help_page = await client.get(browser.headers["location"], headers=HTML)
    # Scripts keep the API's JSON error.
    assert script.status_code == 404 and "not configured" in script.json()["detail"]
    assert browser.status_code == 303 and browser.headers["location"] == "/login?next=%2Falerts"
    assert help_page.status_code == 200
    assert help_page.headers["content-type"].startswith("text/html")
    section = text_between(help_page.text, 'id="unconfigured-h"', "</section>")
    assert "Login is not configured" in section
    for key in ("web.oidc_issuer", "web.oidc_client_id", "web.oidc_client_secret"):
        assert f"<code>{key}</code>" in section
    roles = text_between(help_page.text, 'id="roles-h"', "</section>")
    assert "use the kill switch" in text_between(roles, 'id="role-expert"', "</tr>")
    assert "nothing: reading only" in text_between(roles, 'id="role-viewer"', "</tr>")
    world.store.dispose()


async def test_the_help_page_opens_where_reading_needs_a_login(tmp_path: Path) -> None:
    # Sending its visitor to /auth/login (and back here) would loop forever.
    world = _world(tmp_path, open_read=False)
    async with client_for(world.services) as client:
        help_page = await client.get("/login", headers=HTML)
        dashboard = await client.get("/", headers=HTML)
    assert help_page.status_code == 200 and "Login is not configured" in help_page.text
    # Nothing of the agency's state for someone who may not read it.
    assert "Stale source" not in help_page.text
    assert dashboard.status_code == 303
    world.store.dispose()


async def test_anonymous_pages_offer_the_actions_a_login_gives(tmp_path: Path) -> None:
    world = _world(tmp_path)
    async with client_for(world.services) as client:
        anonymous = await client.get("/alerts", headers=HTML)
        client.headers["authorization"] = f"Bearer {world.tokens[Role.OPERATOR]}"
        operator = await client.get("/alerts", headers=HTML)
    assert login_offer() in anonymous.text
    assert login_offer() not in operator.text
    world.store.dispose()


async def test_the_footer_links_the_api_docs_and_labels_a_simulated_clock(
    tmp_path: Path,
) -> None:
    world = _world(tmp_path)
    async with client_for(world.services) as client:
        real = await client.get("/kpi", headers=HTML)
    origin = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    world.services.clock = ScaledClock(origin_wall=origin, origin_sim=origin, speed=600.0)
    async with client_for(world.services) as client:
        scaled = await client.get("/kpi", headers=HTML)
        docs = await client.get("/docs", headers=HTML)
    real_footer = text_between(real.text, '<footer class="footer">', "</footer>")
    scaled_footer = text_between(scaled.text, '<footer class="footer">', "</footer>")
    assert "all times UTC" in real_footer and "simulated" not in real_footer
    assert "<strong>simulated</strong> UTC" in scaled_footer and "600x real time" in scaled_footer
    assert "your computer's clock" in scaled_footer
    for footer in (real_footer, scaled_footer):
        assert '<a href="/docs">API documentation</a>' in footer
    assert docs.status_code == 200
    world.store.dispose()
