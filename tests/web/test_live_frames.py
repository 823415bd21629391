"""The live stream's wire format: frames an EventSource parses back to what was sent, and a
keep-alive comment on a quiet stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spyagency.web import live
from spyagency.web.app import create_app
from spyagency.web.live import sse_frame
from tests.web.api_world import World, make_world
from tests.web.loopback import serving


def parse_event(frame: bytes) -> dict[str, str]:
    """The fields of one frame as the HTML standard's event-stream parser reads them: data
    lines joined by line feeds, comment lines ignored."""
    text = frame.decode()
    assert text.endswith("\n\n") and "\n\n" not in text[:-2], "one frame, one blank line"
    fields: dict[str, str] = {}
    data: list[str] = []
    for line in text[:-2].split("\n"):
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        else:
            fields[name] = value
    if data:
        fields["data"] = "\n".join(data)
    return fields


any_text = st.text(st.characters(exclude_categories=("Cs",)))


@given(
    data=any_text
    | st.lists(st.sampled_from(["a", "\r", "\n", "\r\n", "\u2028", "\x85"])).map("".join),
    event=any_text,
    event_id=st.integers(min_value=0, max_value=2**62),
)
def test_a_frame_reads_back_as_sent(data: str, event: str, event_id: int) -> None:
    parsed = parse_event(sse_frame(data=data, event=event, event_id=event_id))
    # Every line break comes back as a line feed; nothing else changes (U+2028 included).
    assert parsed["data"] == data.replace("\r\n", "\n").replace("\r", "\n")
    assert parsed["id"] == str(event_id)
    # A line break in a name would start a field of its own: it becomes a space.
    assert parsed["event"] == event.replace("\r", " ").replace("\n", " ")


def test_a_comment_is_no_event() -> None:
    frame = sse_frame(comment="keep\nalive", retry_ms=3000)
    assert frame == b": keep alive\nretry: 3000\n\n"
    assert "data" not in parse_event(frame)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = make_world(f"sqlite:///{tmp_path / 'agency.db'}")
    yield world
    world.store.dispose()


async def test_a_quiet_stream_carries_keep_alive_comments(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "KEEPALIVE_SECONDS", 0.1)
    app = create_app(world.services)

    async def comments(lines: AsyncIterator[str], count: int) -> list[str]:
        seen = []
        async for line in lines:
            if line.startswith(":"):
                seen.append(line)
                if len(seen) == count:
                    return seen
        raise AssertionError("the stream ended")

    async with (
        serving(app) as base,
        httpx2.AsyncClient(base_url=base) as http,
        http.stream("GET", "/api/v1/events/stream") as stream,
    ):
        seen = await asyncio.wait_for(comments(stream.aiter_lines(), 3), 10)
    assert seen == [": spyagency live events", ": keep-alive", ": keep-alive"]
