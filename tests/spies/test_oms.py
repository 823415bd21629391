from __future__ import annotations

from datetime import UTC, datetime

import httpx2

from spyagency.domain.facts import RunInfo
from spyagency.domain.states import Source
from spyagency.spies.oms import OmsRunsSpy, query_ranges
from spyagency.spies.scope import PollScope, RunScope, SpyReport
from tests.spies.fakes import NOW, FakeOms, asgi, facts_of, fast_settings, fixed_clock

BASE = "http://oms.test/agg/api/v1/"


def spy_for(fake: FakeOms, first_start_runs: int = 50) -> OmsRunsSpy:
    return OmsRunsSpy(
        BASE, transport=asgi(fake.app()), clock=fixed_clock, first_start_runs=first_start_runs
    )


def runs_of(report: SpyReport) -> dict[int, RunInfo]:
    return {info.run: info for info in facts_of(report, RunInfo)}


async def test_open_and_new_runs_are_reported() -> None:
    fake = FakeOms()
    for run in range(379990, 380004):
        fake.add(run)
    fake.add(380001, end_time=None, stable_beam=False, components="PIXEL, TRACKER")
    fake.add(380003, **{"class": None, "b_field": 0.02, "new_attribute": {"x": 1}})
    scope = PollScope(
        now=NOW, runs=(RunScope(380000, True), RunScope(380001, False)), highest_known_run=380001
    )
    async with spy_for(fake) as spy:
        report = await spy.poll(scope)
    assert report.errors == [] and report.source is Source.OMS
    found = runs_of(report)
    assert sorted(found) == [380000, 380001, 380002, 380003]
    assert found[380000] == RunInfo(
        run=380000,
        start=datetime(2026, 5, 31, 20, 5, 12, tzinfo=UTC),
        stop=datetime(2026, 5, 31, 22, 1, 40, tzinfo=UTC),
        fill=10650,
        # OMS has no run class: a "class" attribute (the Run Registry's) is not read from it.
        run_class=None,
        b_field=3.8,
        components=(
            "CSC",
            "DAQ",
            "DCS",
            "DQM",
            "DT",
            "ECAL",
            "ES",
            "HCAL",
            "PIXEL",
            "RPC",
            "SCAL",
            "TCDS",
            "TRACKER",
            "TRG",
        ),
        stable_beam=True,
        sequence="GLOBAL-RUN",
        tier0_transfer=True,
    )
    assert found[380001].stop is None and found[380001].components == ("PIXEL", "TRACKER")
    assert found[380003].run_class is None and found[380003].b_field == 0.02
    assert report.requests == 1


async def test_local_and_minidaq_runs_are_not_reported() -> None:
    fake = FakeOms()
    fake.add(380001)
    fake.add(380002, sequence="MINIDAQ", tier0_transfer=False)
    fake.add(380003, sequence="GLOBAL-RUN", tier0_transfer=False)  # taken, not transferred
    fake.add(380004, sequence="TIER0_TRANSFER_OFF_LOCAL", tier0_transfer=None)
    fake.add(380005, sequence=None, tier0_transfer=None)  # not said: reported, fields None
    scope = PollScope(now=NOW, runs=(RunScope(380002, False),), highest_known_run=380000)
    async with spy_for(fake) as spy:
        report = await spy.poll(scope)
    found = runs_of(report)
    assert sorted(found) == [380001, 380005]
    assert (found[380005].sequence, found[380005].tier0_transfer) == (None, None)
    assert report.errors == []


async def test_pages_are_followed() -> None:
    fake = FakeOms()
    for run in range(380001, 380251):
        fake.add(run)
    async with spy_for(fake) as spy:
        report = await spy.poll(PollScope(now=NOW, highest_known_run=380000))
    assert len(runs_of(report)) == 250
    assert report.requests == 3


async def test_requests_grow_with_open_runs_not_with_history() -> None:
    async def requests_for(old_runs: int) -> int:
        fake = FakeOms()
        for run in range(380000 - old_runs, 380003):
            fake.add(run)
        scope = PollScope(
            now=NOW,
            runs=tuple(RunScope(r, True) for r in (380000, 380001, 380002)),
            highest_known_run=380002,
        )
        async with spy_for(fake) as spy:
            report = await spy.poll(scope)
        assert sorted(runs_of(report)) == [380000, 380001, 380002]
        return report.requests

    assert await requests_for(10) == await requests_for(1000) == 1


async def test_a_stale_open_run_does_not_walk_the_history_between() -> None:
    fake = FakeOms()
    for run in range(378000, 380003):
        fake.add(run)
    scope = PollScope(
        now=NOW, runs=(RunScope(378100, True), RunScope(380002, True)), highest_known_run=380002
    )
    async with spy_for(fake) as spy:
        report = await spy.poll(scope)
    assert sorted(runs_of(report)) == [378100, 380002]
    assert report.requests == 2


def test_query_ranges() -> None:
    assert query_ranges([], 380000, 50) == [(380001, None)]
    assert query_ranges([380000, 380010], 380010, 50) == [(380000, None)]
    assert query_ranges([370000, 380000], 380000, 50) == [(370000, 370000), (380000, None)]
    assert query_ranges([370000, 370020], 380000, 50) == [(370000, 370020), (380001, None)]
    assert query_ranges([380000], None, 50) == [(380000, 380000)]


async def test_first_start_asks_for_the_newest_runs() -> None:
    fake = FakeOms()
    for run in range(379000, 380000):
        fake.add(run)
    async with spy_for(fake, first_start_runs=20) as spy:
        report = await spy.poll(PollScope(now=NOW))
    assert sorted(runs_of(report)) == list(range(379980, 380000))
    assert report.requests == 1


async def test_bad_items_and_bad_pages() -> None:
    good = {
        "id": "380001",
        "type": "runs",
        "attributes": {
            "run_number": 380001,
            "start_time": "2026-05-31T20:05:12Z",
            "end_time": None,
        },
    }
    bad_items = [
        {"id": "380002", "type": "runs", "attributes": {"start_time": "x", "end_time": None}},
        {
            "id": "380003",
            "type": "runs",
            "attributes": {"run_number": 380003, "start_time": "last tuesday", "end_time": None},
        },
        {
            "id": "380004",
            "type": "runs",
            "attributes": {
                "run_number": 380004,
                "end_time": None,
                "start_time": None,
                "b_field": "strong",
            },
        },
        "not an object",
    ]

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.params.get("filter[run_number][LE]") == "370000":
            return httpx2.Response(200, json={"errors": [{"title": "bad filter"}]})
        return httpx2.Response(
            200, json={"data": [good, *bad_items], "meta": {"totalResourceCount": 5}}
        )

    scope = PollScope(now=NOW, runs=(RunScope(370000, True),), highest_known_run=380000)
    spy = OmsRunsSpy(
        BASE, transport=httpx2.MockTransport(handler), clock=fixed_clock, settings=fast_settings()
    )
    async with spy:
        report = await spy.poll(scope)
    assert sorted(runs_of(report)) == [380001]
    assert len(report.errors) == 5
    assert all(e.permanent for e in report.errors)
    assert any("data" in e.message for e in report.errors)
