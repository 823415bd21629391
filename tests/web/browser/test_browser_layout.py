"""Every page at a phone's width (420 px) and a wall screen's (1920 px): nothing widens the page
beyond the screen (wide tables scroll in their own box), and a full-page screenshot of each is
kept in test-artifacts/ for review."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.browser.conftest import ARTIFACTS, LiveServer
from tests.web.page_world import READY

pytestmark = pytest.mark.browser

PAGES = {
    "dashboard": "/",
    "run": f"/runs/{READY}",
    "workflow": "/workflows/SiStripGains",
    "alerts": "/alerts",
    "audit": "/audit",
    "sources": "/sources",
    "kpi": "/kpi",
    "not-found": "/no-such-page",
    "login": "/login",
}


def wait_for_plots(page: Page) -> None:
    """Plots from the API are drawn after the page loads: wait until each says it is done."""
    plots = page.locator("div.plot[data-plot-src]")
    for index in range(plots.count()):
        expect(plots.nth(index)).to_have_attribute("data-drawn", re.compile(r"^\d+$"))


def overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0: it fits)."""
    scroll_width: int = page.evaluate("document.documentElement.scrollWidth")
    inner_width: int = page.evaluate("window.innerWidth")
    return max(0, scroll_width - inner_width)


@pytest.mark.parametrize("width", [420, 1920])
def test_no_page_is_wider_than_the_screen(live: LiveServer, browser: Browser, width: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    too_wide: dict[str, int] = {}
    ARTIFACTS.mkdir(exist_ok=True)
    for name, path in PAGES.items():
        page.goto(live.url + path)
        expect(page.locator("main h1")).to_have_count(1)
        wait_for_plots(page)
        excess = overflow(page)
        if excess:
            too_wide[name] = excess
        page.screenshot(path=str(ARTIFACTS / f"page-{name}-{width}.png"), full_page=True)
    context.close()
    assert too_wide == {}, f"pages wider than {width} px (by px): {too_wide}"
    # The not-found page's own 404 is the only error a page may log.
    assert [text for text in errors if "404" not in text] == []
