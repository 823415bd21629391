"""A ready run waiting behind a lower run says so, on its dashboard row and its page, with a
link to the run that holds it; a run nobody holds says nothing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.web.page_world import (
    BLOCKED,
    NOW,
    READY,
    World,
    assessments,
    fetch_page,
    make_world,
    text_between,
)

WAITING = BLOCKED + 10  # ready, above the blocked run


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = make_world(tmp_path)
    ready = assessments()[READY]
    with world.store.transaction() as tx:
        tx.states.save_run(dataclasses.replace(ready, run=WAITING), NOW)
    return world


async def test_a_ready_run_behind_a_blocked_one_is_held_by_it(world: World) -> None:
    dashboard = await fetch_page(world, "/")
    row = text_between(dashboard, f'<tr id="run-{WAITING}"', "</tr>")
    assert f'<a class="held-by" href="/runs/{BLOCKED}"' in row
    assert f"held by {BLOCKED}" in row
    # The ready run below the blocked one is not held: nothing lower holds it.
    assert "held-by" not in text_between(dashboard, f'<tr id="run-{READY}"', "</tr>")
    fragment = await fetch_page(world, f"/fragments/runs/{WAITING}/row")
    assert f"held by {BLOCKED}" in fragment

    page = await fetch_page(world, f"/runs/{WAITING}")
    verdict = text_between(page, 'id="verdict-h"', "</section>")
    assert f'<dt>Held by</dt><dd class="held-by-note">run <a href="/runs/{BLOCKED}">' in verdict
    detail = await fetch_page(world, f"/fragments/runs/{WAITING}/detail")
    assert "<dt>Held by</dt>" in detail
    assert "<dt>Held by</dt>" not in await fetch_page(world, f"/runs/{READY}")
