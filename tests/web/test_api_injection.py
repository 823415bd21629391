"""Hostile text in every field a person can fill is stored as given and returned inertly:
JSON-escaped in bodies, never reflected into a header, never interpreted as SQL. On both
backends: PostgreSQL is the one that refuses NUL."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest

from spyagency.domain.facts import StreamDone
from spyagency.domain.observation import Observation
from spyagency.domain.states import Source
from spyagency.web.authorization import Role
from tests.web.api_world import NOW, READY, World, client_for, make_world

HOSTILE = [
    "'); DROP TABLE override; --",
    "1 OR 1=1; SELECT * FROM api_token",
    '<script>alert("x")</script><img src=x onerror=alert(1)>',
    "line one\r\nSet-Cookie: spyagency_session=forged\r\n\r\n",
    "\u202eevil\u0000nul",
]


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    world = make_world(store_url)
    yield world
    world.store.dispose()


def stored_text(text: str) -> str:
    return text.replace("\x00", "\ufffd")  # the store's one rewrite: PostgreSQL refuses NUL


@pytest.mark.parametrize("text", HOSTILE)
async def test_text_fields_are_kept_verbatim_and_returned_as_json(world: World, text: str) -> None:
    expert = world.auth(Role.EXPERT)
    body = {"kind": "hold", "run": READY, "why": text, "expires_in_hours": 1}
    async with client_for(world.services) as client:
        created = await client.post("/api/v1/overrides", json=body, headers=expert)
        switch = {"enabled": True, "reason": text}
        flipped = await client.post("/api/v1/control/signals", json=switch, headers=expert)
        listed = await client.get("/api/v1/overrides")
        audit = await client.get("/api/v1/audit")
        workflow = await client.get(f"/api/v1/workflows/{quote(text, safe='')}/history")
    assert created.status_code == 201 and flipped.status_code == 200
    assert created.json()["why"] == stored_text(text).strip()
    assert listed.json()[0]["why"] == stored_text(text).strip()
    assert flipped.json()["reason"] == stored_text(text).strip()
    assert audit.json()["items"][0]["detail"]["reason"] == stored_text(text).strip()
    assert workflow.status_code in (404, 422)
    for answer in (created, flipped, listed, audit, workflow):
        assert answer.headers["content-type"] == "application/json"
        # JSON with nosniff is never rendered as HTML, whatever angle brackets it holds.
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "set-cookie" not in answer.headers
        for value in answer.headers.values():
            assert "DROP" not in value and "alert" not in value
    with world.store.read() as tx:  # the tables survived
        assert len(tx.tokens.list()) == 3


async def test_raw_upstream_text_is_returned_escaped_and_truncated(world: World) -> None:
    story_raw = "<html><script>steal()</script>" + "x" * 5000
    with world.store.transaction() as tx:
        tx.observations.add(
            Observation(Source.TIER0, NOW, StreamDone(READY, "Zz", True), story_raw)
        )
    async with client_for(world.services) as client:
        timeline = (await client.get(f"/api/v1/runs/{READY}/timeline")).json()
    entry = next(e for e in timeline if e["fact"].get("stream") == "Zz")
    assert entry["raw_truncated"] is True and len(entry["raw"]) == 4000
    assert entry["raw"].startswith("<html><script>")
