"""The dashboard with 500 runs in a real browser: nothing spills out of the page (the wide
table scrolls inside its own box), the column headings stay in view while scrolling, and the
table is usable from the keyboard alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from spyagency.web.app import create_app
from tests.web.browser.conftest import SECRET, LiveServer, Watched, screenshot, served
from tests.web.page_world import make_world, seed_many

pytestmark = pytest.mark.browser
MANY = 500


@pytest.fixture
def crowded(tmp_path: Path) -> Iterator[LiveServer]:
    world = make_world(tmp_path, secret_key=SECRET)
    seed_many(world.store, MANY)
    with served(create_app(world.services)) as (url, loop):
        yield LiveServer(url, world, loop)
    world.store.dispose()


def spills_sideways(watched: Watched) -> bool:
    return bool(
        watched.page.evaluate(
            "document.documentElement.scrollWidth > document.documentElement.clientWidth"
        )
    )


@pytest.mark.parametrize("width", [1280, 1920])
def test_five_hundred_runs_fit_the_page(crowded: LiveServer, watched: Watched, width: int) -> None:
    page = watched.page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(crowded.url + f"/?limit={MANY}")
    expect(page.locator("#runs tbody tr.run-row")).to_have_count(MANY)
    assert not spills_sideways(watched)
    # Every row one line high: no cell wraps into a taller row.
    heights = page.evaluate(
        "Array.from(document.querySelectorAll('#runs tbody tr')).map(r => r.offsetHeight)"
    )
    assert max(heights) <= 1.5 * min(heights)
    # Scrolled down to the last run (the wheel over the table scrolls its box), the headings
    # stay at the top of the box, above the rows.
    page.eval_on_selector(".table-scroll", "box => { box.scrollTop = box.scrollHeight; }")
    box = page.locator(".table-scroll").bounding_box()
    heading = page.locator("#runs thead th").first.bounding_box()
    last = page.locator("#runs tbody tr.run-row").last.bounding_box()
    assert box is not None and heading is not None and last is not None
    assert abs(heading["y"] - box["y"]) < 2
    assert heading["y"] + heading["height"] <= last["y"] < box["y"] + box["height"]
    screenshot(page, f"dashboard-500-{width}")
    page.goto(crowded.url + f"/?limit={MANY}&wall=1")
    assert not spills_sideways(watched)
    assert watched.console_errors == []


def test_five_hundred_runs_from_the_keyboard(crowded: LiveServer, watched: Watched) -> None:
    page = watched.page
    page.goto(crowded.url + f"/?limit={MANY}")
    page.keyboard.press("Tab")
    expect(page.locator("a.skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('run-link')"):
            break
    first = page.evaluate("document.activeElement.textContent")
    assert first == page.locator("#runs tbody a.run-link").first.text_content()
    # Tab walks the rows in order, each focused link visibly outlined and scrolled into view.
    for _ in range(3):
        page.keyboard.press("Tab")
    focused = page.locator(":focus")
    expect(focused).to_have_class("run-link")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    expect(focused).to_be_in_viewport()
    number = focused.text_content()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text(f"Run {number}")
    assert watched.console_errors == []
