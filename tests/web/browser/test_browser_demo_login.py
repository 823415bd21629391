"""The real demo (simulator, identity provider, agency) in Chromium: a newcomer logs in as each
role by the link the demo prints, or by clicking "Log in" and picking a user."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from spyagency.config.loading import load_settings
from spyagency.harness.demo import DemoStarted, run_demo
from spyagency.web.authorization import Role
from tests.web.browser.conftest import Watched, screenshot

pytestmark = pytest.mark.browser


@dataclass
class RunningDemo:
    started: DemoStarted
    loop: asyncio.AbstractEventLoop
    stop: asyncio.Event


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDemo]:
    """``run_demo`` on its own event loop in a thread, stopped by its stop event."""
    workdir = tmp_path_factory.mktemp("demo")
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    announced: list[DemoStarted] = []
    ready = threading.Event()
    failure: list[BaseException] = []

    def announce(started: DemoStarted) -> None:
        announced.append(started)
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(
                run_demo("quiet_day", workdir, speed=600.0, port=0, announce=announce, stop=stop)
            )
        except BaseException as error:  # the test must hear why, not wait forever
            failure.append(error)
        finally:
            ready.set()

    thread = threading.Thread(target=run, name="demo", daemon=True)
    thread.start()
    ready.wait(90)
    if not announced:
        raise RuntimeError(f"the demo did not start: {failure}")
    yield RunningDemo(announced[0], loop, stop)
    loop.call_soon_threadsafe(stop.set)
    thread.join(30)
    assert not thread.is_alive() and not failure, failure
    loop.close()


def _who(page: Page) -> tuple[str, str]:
    return page.locator(".who-name").inner_text(), page.locator(".who-role").inner_text()


def test_an_expert_clicks_log_in_picks_a_user_and_gets_the_kill_switch(
    demo: RunningDemo, watched: Watched
) -> None:
    page = watched.page
    page.goto(demo.started.url)
    expect(page.get_by_role("note")).to_contain_text("as an expert to")
    expect(page.get_by_text("Signal kill switch")).to_have_count(0)
    page.get_by_role("link", name="Log in").click()
    # The simulated provider asks whom to be: one link per demo user.
    expect(page.get_by_role("heading", name="Simulated identity provider")).to_be_visible()
    screenshot(page, "demo-login-chooser")
    page.get_by_role("link", name="expert", exact=True).click()
    expect(page).to_have_url(demo.started.url)
    assert _who(page) == ("expert", "expert")
    page.get_by_text("Signal kill switch").click()
    expect(page.get_by_role("button", name="Switch signals OFF")).to_be_visible()
    expect(page.get_by_role("note")).to_have_count(0)
    screenshot(page, "demo-logged-in-expert")
    assert watched.console_errors == []


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.label)
def test_each_role_logs_in_by_its_printed_link(
    demo: RunningDemo, watched: Watched, role: Role
) -> None:
    user = next(user for user in demo.started.users if user.role is role)
    page = watched.page
    page.goto(user.login_url(demo.started.url))
    expect(page).to_have_url(demo.started.url)
    assert _who(page) == (user.name, role.label)
    kill_switch = page.get_by_text("Signal kill switch")
    expect(kill_switch).to_have_count(1 if role is Role.EXPERT else 0)
    page.goto(demo.started.url + "audit")
    logins = page.locator("table.audit tbody tr", has_text="auth.login")
    expect(logins.filter(has_text=f"user:{user.name}").first).to_be_visible()
    assert watched.console_errors == []


def test_the_demo_writes_the_configuration_the_command_line_needs(demo: RunningDemo) -> None:
    config_file = demo.started.config_file
    settings = load_settings(config_file, environ={})
    # Its secrets are the owner's only.
    assert config_file.stat().st_mode & 0o077 == 0
    assert settings.clock.mode == "scaled" and settings.clock.speed == 600.0
    assert settings.database.url == f"sqlite:///{config_file.parent / 'agency.db'}"
    assert settings.web.oidc_issuer == demo.started.issuer
