"""The pages in a real browser: they load without a console error under the strict CSP, a
run turns ready live without a reload, keyboard users reach a run, experts act through forms."""

from __future__ import annotations

import dataclasses
import re

import pytest
from playwright.sync_api import Browser, expect

from spyagency.domain.states import Verdict
from tests.web.browser.conftest import LiveServer, Watched, screenshot
from tests.web.page_world import BLOCKED, PENDING, READY, assessments

pytestmark = pytest.mark.browser


def test_dashboard_loads_and_counts_down(live: LiveServer, watched: Watched) -> None:
    page = watched.page
    page.goto(live.url + "/")
    expect(page.locator(f"#run-{BLOCKED} .badge")).to_have_text("blocked")
    expect(page.locator(f"#run-{READY}")).to_have_class(re.compile("is-fcsr"))
    countdown = page.locator(f"#run-{PENDING} time.countdown")
    # Counted from the agency's clock (T0 + 60 h), not the browser's: lock-in was T0 + 49.5 h.
    expect(countdown).to_have_text(re.compile(r"^overdue 10h 3[01]m$"))
    expect(page.locator("#live-status")).to_have_text(re.compile("^live"))
    screenshot(page, "dashboard")
    page.goto(live.url + "/?wall=1")
    expect(page.locator("body.wall")).to_have_count(1)
    screenshot(page, "dashboard-wall")
    assert watched.console_errors == []


def test_a_run_turns_ready_live_without_a_reload(live: LiveServer, watched: Watched) -> None:
    page = watched.page
    page.goto(live.url + "/")
    expect(page.locator("#live-status")).to_have_text(re.compile("^live"))
    badge = page.locator(f"#run-{PENDING} .badge")
    expect(badge).to_have_text("pending")
    page.evaluate("window.__notReloaded = true")

    ready = assessments()[READY]
    now = live.world.clock.now()
    with live.world.store.transaction() as tx:
        change = tx.states.save_run(dataclasses.replace(ready, run=PENDING), now)
    assert change.verdict_changed and change.new_verdict is Verdict.READY
    live.notify_changes()

    expect(badge).to_have_text("ready")
    expect(page.locator("#summary")).to_contain_text("pending 1")
    assert page.evaluate("window.__notReloaded") is True
    screenshot(page, "live-update")
    assert watched.console_errors == []


def test_keyboard_reaches_a_run_page(live: LiveServer, watched: Watched) -> None:
    page = watched.page
    page.goto(live.url + "/")
    page.keyboard.press("Tab")
    expect(page.locator("a.skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('run-link')"):
            break
    focused = page.evaluate("document.activeElement.textContent")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    screenshot(page, "keyboard-focus")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/runs/{focused}$"))
    expect(page.locator("h1")).to_contain_text(f"Run {focused}")
    screenshot(page, "run-page")
    assert watched.console_errors == []


def test_an_expert_places_an_override_and_finds_it_audited(
    live: LiveServer, watched: Watched
) -> None:
    page = watched.page
    page.context.add_cookies([live.session_cookie("dana", "expert", "csrf-browser")])  # type: ignore[list-item]
    page.goto(live.url + f"/runs/{READY}")
    expect(page.locator(".who-name")).to_have_text("dana")
    form = page.locator("form.override-form")
    form.locator("select[name=kind]").select_option("hold")
    form.locator("input[name=why]").fill("pixel alignment <looks> odd")
    form.locator("button[type=submit]").click()
    # A plain form post, answered by a redirect back here with a one-time notice.
    expect(page.locator("p.notice-ok")).to_contain_text(f"Override hold placed on run {READY}")
    overrides = page.locator("#overrides-h + p + table")
    expect(overrides).to_contain_text("pixel alignment <looks> odd")
    expect(overrides).to_contain_text("dana")
    screenshot(page, "override-placed")
    page.goto(live.url + "/audit")
    expect(page.locator("table.audit tbody tr").first).to_contain_text("override.hold")
    expect(page.locator("table.audit tbody tr").first).to_contain_text(f"run:{READY}")
    assert watched.console_errors == []


def test_plots_draw_on_the_workflow_and_kpi_pages(live: LiveServer, watched: Watched) -> None:
    page = watched.page
    page.goto(live.url + "/workflows/SiStripGains")
    expect(page.locator("div.plot[data-plot=latency] canvas")).to_have_count(1)
    expect(page.locator("div.plot[data-plot=dqm] canvas")).to_have_count(1)
    screenshot(page, "workflow")
    page.goto(live.url + "/kpi")
    expect(page.locator("#release-histogram canvas")).to_have_count(1)
    screenshot(page, "kpi")
    assert watched.console_errors == []


def test_an_operator_logs_in_through_oidc_and_the_login_is_audited(
    live_with_login: LiveServer, watched: Watched
) -> None:
    page = watched.page
    page.goto(live_with_login.url + "/alerts")
    page.get_by_role("link", name="Log in").click()
    # Agency -> provider (authorization code + PKCE) -> agency callback -> back to the page.
    expect(page).to_have_url(re.compile(r"/alerts$"))
    expect(page.locator(".who-name")).to_have_text("olga")
    expect(page.locator(".who-role")).to_contain_text("operator")
    screenshot(page, "logged-in")
    page.goto(live_with_login.url + "/audit")
    expect(page.locator("table.audit tbody tr").first).to_contain_text("auth.login")
    expect(page.locator("table.audit tbody tr").first).to_contain_text("olga")
    assert watched.console_errors == []


def test_an_operator_acknowledges_an_alert_with_javascript_off(
    live: LiveServer, browser: Browser
) -> None:
    context = browser.new_context(java_script_enabled=False)
    context.add_cookies([live.session_cookie("olga", "operator", "csrf-nojs")])  # type: ignore[list-item]
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(live.url + "/alerts")
    page.locator("#open-h + table form button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/alerts$"))
    expect(page.locator("p.notice-ok")).to_contain_text("acknowledged")
    expect(page.locator("#open-h + table")).to_contain_text("acknowledged by olga")
    screenshot(page, "alert-acknowledged-without-javascript")
    page.reload()
    expect(page.locator("p.notice")).to_have_count(0)
    context.close()
