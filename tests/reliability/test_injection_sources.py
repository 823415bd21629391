"""Hostile text arriving from upstream (OMS run attributes, upload-log messages, harvest file
names) reaches nothing: the spies keep it as inert data or refuse it, the store keeps it
verbatim without executing it, and the pages show it HTML-escaped. On both backends.

tests/web/test_api_injection.py covers the fields people fill (override reasons, switches,
path parameters) and raw upstream text in the JSON API; this file covers what the sources say.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spyagency.domain.facts import RunInfo
from spyagency.domain.knowledge import fold
from spyagency.domain.observation import Observation
from spyagency.domain.verdict import Context, judge_run
from spyagency.spies.harvest_files import parse_file_name
from spyagency.spies.oms import OmsRunsSpy
from spyagency.spies.scope import PollScope
from spyagency.spies.upload_log_rows import parse_file_log
from tests.spies.fakes import NOW, FakeOms, asgi, facts_of, fixed_clock
from tests.web.page_world import World, client_for, fetch_page, make_world, pages_app

RUN = 380000
SQL = "x'); DROP TABLE observation; --"
HTML = '<script>alert("upstream")</script>'
HEADER = "ok\r\nSet-Cookie: spyagency_session=forged"
ESCAPED_HTML = "&lt;script&gt;alert(&#34;upstream&#34;)&lt;/script&gt;"


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    world = make_world(store_url, seeded=False)
    yield world
    world.store.dispose()


async def hostile_oms_run() -> list[Observation]:
    fake = FakeOms()
    # A global run (the spy skips local ones): the hostile text sits in the string
    # attributes RunInfo keeps, its components. OMS gives no run class; "class" is ignored.
    fake.add(
        RUN,
        **{
            "class": HTML + SQL,
            "sequence": "GLOBAL-RUN",
            "tier0_transfer": True,
            "components": [HTML + SQL, HEADER, "PIXEL"],
            "hlt_key": SQL,
        },
    )
    spy = OmsRunsSpy("http://oms.test/agg/api/v1/", transport=asgi(fake.app()), clock=fixed_clock)
    async with spy:
        report = await spy.poll(PollScope(now=NOW, highest_known_run=RUN - 1))
    assert report.errors == []
    [info] = facts_of(report, RunInfo)
    assert info.components == (HTML + SQL, HEADER, "PIXEL")  # kept as data, verbatim
    assert info.run_class is None and info.sequence == "GLOBAL-RUN"
    return report.observations


def store_and_judge(world: World, observations: list[Observation]) -> None:
    knowledge = fold(observations)
    context = Context(
        catalogue=world.services.catalogue,
        policy=world.services.policy,
        now=NOW,
        health={},
        system=knowledge.system,
    )
    with world.store.transaction() as tx:
        tx.observations.add_many(observations)
        tx.states.save_run(judge_run(knowledge.run(RUN), context), NOW)


async def test_hostile_run_attributes_are_stored_inertly_and_shown_escaped(world: World) -> None:
    observations = await hostile_oms_run()
    store_and_judge(world, observations)
    with world.store.read() as tx:  # no statement ran: the tables and the row are there
        assert tx.observations.count() == len(observations)
        [stored] = [o.fact for o in tx.observations.timeline(RUN) if isinstance(o.fact, RunInfo)]
        assert stored.components == (HTML + SQL, HEADER, "PIXEL")
        assert stored.run_class is None
    for url in (f"/runs/{RUN}", "/"):
        html = await fetch_page(world, url)
        assert HTML not in html, f"{url} shows upstream markup unescaped"
        assert "<script>alert" not in html
    run_page = await fetch_page(world, f"/runs/{RUN}")
    assert ESCAPED_HTML in run_page  # shown, as text


async def test_hostile_text_in_headers_of_our_answers_never_appears(world: World) -> None:
    store_and_judge(world, await hostile_oms_run())
    async with client_for(pages_app(world.services)) as client:
        answer = await client.get(f"/runs/{RUN}")
    assert "set-cookie" not in {k.lower() for k in answer.headers}
    assert all("forged" not in value for value in answer.headers.values())


def test_upload_log_messages_are_kept_as_text() -> None:
    text = HEADER + HTML + SQL
    log = parse_file_log(text)
    assert log.text == text


@pytest.mark.parametrize(
    "name",
    [
        f"Run{RUN}@<script>@a1b2.db",
        f"Run{RUN}@x';DROP TABLE observation;--@a1b2.db",
        f"Run{RUN}@tag@a1b2.db\r\nX-Injected: 1",
        f"Run{RUN}@../../etc/passwd@a1b2.db",
    ],
)
def test_harvest_file_names_outside_the_convention_are_refused(name: str) -> None:
    assert parse_file_name(name) is None
