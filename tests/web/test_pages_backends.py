"""The pages' own queries (JSON fields of observations, counts, the FCSR) on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.web.page_world import (
    BLOCKED,
    READY,
    World,
    client_for,
    make_world,
    pages_app,
    rows_of,
    text_between,
)


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    world = make_world(store_url)
    yield world
    world.store.dispose()


async def test_every_page_on_this_backend(world: World) -> None:
    async with client_for(pages_app(world.services)) as client:
        dashboard = await client.get("/?run_class=Collisions26&era=Run2026A")
        run = await client.get(f"/runs/{BLOCKED}")
        workflow = await client.get("/workflows/SiStripGains")
        others = [await client.get(url) for url in ("/kpi", "/sources", "/alerts", "/audit")]
    assert dashboard.status_code == 200
    assert len(rows_of(dashboard.text)) == 6
    assert "is-fcsr" in text_between(dashboard.text, f'<tr id="run-{READY}"', "</tr>")
    assert run.status_code == 200 and "Collisions26" in run.text
    ready = text_between(workflow.text, f'href="/runs/{READY}#', "</tr>")
    assert "<td>2.0</td>" in ready and "<td>ok</td>" in ready
    assert [answer.status_code for answer in others] == [200] * 4
