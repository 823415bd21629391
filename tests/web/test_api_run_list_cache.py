"""The run list is served from memory (serialised and compressed once per store state and
query): the cache must never change what a client sees, only how fast it sees it. ETags,
304s and keyset pages stay right, gzip or not, and a change shows at once."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
from collections.abc import Iterator

import httpx2
import pytest

from spyagency.web.render_cache import GLANCE_SECONDS
from tests.web.api_world import (
    BLOCKED,
    MISSED,
    NOW,
    PENDING,
    READY,
    RELEASED,
    World,
    client_for,
    make_world,
)

NEW_RUN = PENDING + 10
PLAIN = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    world = make_world(store_url)
    yield world
    world.store.dispose()


def add_run(world: World, run: int) -> None:
    """A new run written straight into the store, as the engine (maybe in another process)
    writes it."""
    with world.store.transaction() as tx:
        template = tx.states.get_run(READY)
        assert template is not None
        tx.states.save_run(dataclasses.replace(template.assessment, run=run), NOW)


async def listed(client: httpx2.AsyncClient, **params: int) -> list[int]:
    page = (await client.get("/api/v1/runs", params=params)).json()
    return [item["run"] for item in page["items"]]


async def test_gzip_and_plain_answers_carry_the_same_page_and_matching_etags(
    world: World,
) -> None:
    async with client_for(world.services) as client:
        plain = await client.get("/api/v1/runs", headers=PLAIN)
        async with client.stream("GET", "/api/v1/runs", headers=GZIP) as packed:
            raw = b"".join([chunk async for chunk in packed.aiter_raw()])
    assert plain.headers.get("content-encoding") is None
    assert packed.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in plain.headers["vary"].lower()
    assert json.loads(gzip.decompress(raw)) == plain.json()
    assert plain.headers["content-type"] == "application/json"
    # One page in two encodings: the gzip one's validator is the weak form of the plain one.
    assert packed.headers["etag"] == "W/" + plain.headers["etag"]


@pytest.mark.parametrize("encoding", [PLAIN, GZIP])
async def test_either_etag_answers_304_in_either_encoding(
    world: World, encoding: dict[str, str]
) -> None:
    async with client_for(world.services) as client:
        strong = (await client.get("/api/v1/runs", headers=PLAIN)).headers["etag"]
        for tag in (strong, "W/" + strong, f'"other", {strong}'):
            answer = await client.get("/api/v1/runs", headers=encoding | {"If-None-Match": tag})
            assert answer.status_code == 304, tag
            assert answer.content == b""
            assert answer.headers["etag"].removeprefix("W/") == strong
        stale = await client.get("/api/v1/runs", headers=encoding | {"If-None-Match": '"old"'})
    assert stale.status_code == 200 and len(stale.json()["items"]) == 5


async def test_a_change_announced_by_the_engine_shows_at_once(world: World) -> None:
    async with client_for(world.services) as client:
        before = await client.get("/api/v1/runs")
        add_run(world, NEW_RUN)
        await world.services.changes.notify()  # what the engine does after each batch
        after = await client.get("/api/v1/runs", headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.json()["items"][0]["run"] == NEW_RUN
    assert after.headers["etag"] != before.headers["etag"]


async def test_a_change_from_elsewhere_shows_within_a_glance(world: World) -> None:
    async with client_for(world.services) as client:
        assert NEW_RUN not in await listed(client)
        add_run(world, NEW_RUN)  # another process: nothing announced here
        await asyncio.sleep(GLANCE_SECONDS * 1.5)
        assert (await listed(client))[0] == NEW_RUN


async def test_keyset_pages_stay_exact_while_a_new_run_arrives(world: World) -> None:
    async with client_for(world.services) as client:
        first = (await client.get("/api/v1/runs", params={"limit": 2})).json()
        add_run(world, NEW_RUN)
        await world.services.changes.notify()
        cursor = first["next_before_run"]
        second = (
            await client.get("/api/v1/runs", params={"limit": 2, "before_run": cursor})
        ).json()
        third = (
            await client.get(
                "/api/v1/runs", params={"limit": 2, "before_run": second["next_before_run"]}
            )
        ).json()
        fresh = await listed(client, limit=2)
    walked = [item["run"] for page in (first, second, third) for item in page["items"]]
    assert walked == [PENDING, BLOCKED, READY, MISSED, RELEASED]
    assert third["next_before_run"] is None
    assert fresh == [NEW_RUN, PENDING]
