"""The alerts page lists each alert once: open ones on top, resolved ones below, paged."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.web.page_world import NOW, World, fetch_page, make_world, text_between


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path, seeded=False)


def _alert_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr id="alert-(\d+)"', html)]


def _raise(world: World, count: int) -> None:
    """``count`` alerts, every other one resolved: open and resolved ids interleave."""
    with world.store.transaction() as tx:
        for number in range(count):
            key = f"stuck:{number}"
            tx.alerts.open_or_touch(key, "stuck", "warning", 1000 + number, "W", None, key, NOW)
            if number % 2:
                tx.alerts.resolve(key, NOW)


async def test_an_open_alert_is_listed_once_and_only_among_the_open(world: World) -> None:
    _raise(world, 4)
    html = await fetch_page(world, "/alerts")
    open_section = text_between(html, 'id="open-h"', "</section>")
    resolved_section = text_between(html, 'id="history-h"', "</section>")
    assert _alert_ids(open_section) == [1, 3]
    assert _alert_ids(resolved_section) == [4, 2]
    assert sorted(_alert_ids(html)) == [1, 2, 3, 4]


async def test_resolved_alerts_fill_whole_pages_between_open_ones(world: World) -> None:
    # 120 alerts, 60 open: the store's first 51 rows hold only 25 resolved ones, so the page
    # must read on to show 50 and still know an older page exists.
    _raise(world, 120)
    first = await fetch_page(world, "/alerts")
    resolved = _alert_ids(text_between(first, 'id="history-h"', "</section>"))
    assert resolved == list(range(120, 20, -2))
    older = re.search(r'href="/alerts\?before=(\d+)"', first)
    assert older is not None and int(older.group(1)) == 22
    last = await fetch_page(world, f"/alerts?before={older.group(1)}")
    assert _alert_ids(text_between(last, 'id="history-h"', "</section>")) == list(range(20, 0, -2))
    assert 'href="/alerts?before=' not in last


async def test_no_resolved_alert_says_so(world: World) -> None:
    _raise(world, 1)
    html = await fetch_page(world, "/alerts")
    assert "No resolved alert." in text_between(html, 'id="history-h"', "</section>")
