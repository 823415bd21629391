"""The run page says what retention removed from its timeline: how many observations of
which source were compacted, and the span they covered."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from tests.web.page_world import (
    NOW,
    READY,
    RELEASED,
    World,
    fetch_page,
    make_world,
    stories,
    text_between,
)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def see_everything_again(world: World, run: int, later: timedelta) -> int:
    """The run's observations seen a second time: the first sightings become history."""
    story, _hours = stories()[run]
    again = [
        dataclasses.replace(item, observed_at=item.observed_at + later, id=None)
        for item in story.observations
    ]
    with world.store.transaction() as tx:
        tx.observations.add_many(again)
    return len(again)


async def test_the_run_page_notes_compacted_observations(world: World) -> None:
    seen_twice = see_everything_again(world, RELEASED, timedelta(hours=1))
    with world.store.transaction() as tx:
        dropped = tx.retention.compact_run(RELEASED, NOW)
    assert dropped > 0
    html = await fetch_page(world, f"/runs/{RELEASED}")
    note = text_between(html, '<ul class="compacted note">', "</ul>")
    lines = note.split("<li>")[1:]
    assert sum(int(line.split(" ", 1)[0]) for line in lines) == dropped <= seen_twice
    assert "from <span" in note and "compacted (" in note and " .. " in note
    assert any(">oms</span>" in line for line in lines)


async def test_no_note_when_nothing_was_compacted(world: World) -> None:
    html = await fetch_page(world, f"/runs/{READY}")
    assert 'class="compacted' not in html
