"""One run-level line for every list: the store's ``list_summaries`` serves the API's run list
and the dashboard's rows, and a full record reduces to the very same summary; a run's detail
repeats its list line field for field."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.web.api_world import BLOCKED, MISSED, READY, World, client_for, make_world


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    world = make_world(store_url)
    yield world
    world.store.dispose()


def test_a_full_record_reduces_to_the_summary_the_list_reads(world: World) -> None:
    with world.store.read() as tx:
        listed = {summary.run: summary for summary in tx.states.list_summaries(limit=None)}
        records = tx.states.list_runs(limit=None)
    assert len(records) == len(listed) == 5
    for record in records:
        assert record.summary == listed[record.run]


def test_summaries_among_given_runs_come_newest_first(world: World) -> None:
    with world.store.read() as tx:
        among = tx.states.list_summaries(among=[MISSED, READY, 1])
        capped = tx.states.list_summaries(among=[MISSED, READY, BLOCKED], limit=2)
        none = tx.states.list_summaries(among=[])
    assert [summary.run for summary in among] == [READY, MISSED]
    assert [summary.run for summary in capped] == [BLOCKED, READY]
    assert none == []


async def test_a_runs_detail_repeats_its_list_line(world: World) -> None:
    async with client_for(world.services) as client:
        items = (await client.get("/api/v1/runs")).json()["items"]
        for item in items:
            detail = (await client.get(f"/api/v1/runs/{item['run']}")).json()
            assert {name: detail[name] for name in item} == item
