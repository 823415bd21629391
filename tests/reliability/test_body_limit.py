"""Oversized request bodies are refused before anything reads them, on every route."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.web.api_world import READY, World, client_for, make_world

LIMIT = 65536


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = make_world(f"sqlite:///{tmp_path / 'agency.db'}", open_read=False)
    yield world
    world.store.dispose()


@pytest.mark.parametrize("path", ["/api/v1/overrides", f"/runs/{READY}/hold", "/login"])
async def test_a_body_past_the_limit_is_413_and_never_echoed(world: World, path: str) -> None:
    body = b"reason=" + b"A" * (LIMIT + 1)
    async with client_for(world.services) as client:
        answer = await client.post(path, content=body)
    assert answer.status_code == 413
    assert "larger than 65536 bytes" in answer.json()["detail"]
    assert b"AAAA" not in answer.content
    assert answer.headers["x-content-type-options"] == "nosniff"


async def test_a_streamed_body_without_length_is_cut_at_the_limit(world: World) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(1000):
            sent += 4096
            yield b"B" * 4096

    async with client_for(world.services) as client:
        answer = await client.post(
            "/api/v1/overrides", content=chunks(), headers={"content-type": "application/json"}
        )
    assert answer.status_code == 413
    assert sent < 1000 * 4096  # the rest was never read


async def test_a_body_within_the_limit_reaches_the_route(world: World) -> None:
    async with client_for(world.services) as client:
        answer = await client.post("/api/v1/overrides", json={"run": 1})
    assert answer.status_code in (401, 403, 422)
