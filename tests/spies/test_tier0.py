from __future__ import annotations

import json

import httpx2

from spyagency.domain.facts import (
    ExpressConfig,
    FirstConditionSafeRun,
    PromptRecoSwitch,
    RecoReleased,
    StreamDone,
)
from spyagency.domain.states import Source
from spyagency.spies.scope import PollScope, RunScope
from spyagency.spies.tier0 import T0DataServiceSpy
from tests.spies.fakes import (
    NOW,
    FakeTier0,
    T0Run,
    asgi,
    facts_of,
    fast_settings,
    fixed_clock,
)

BASE = "http://t0.test/t0wmadatasvc/prod/"
SKIMS = "SiStripCalZeroBias,PromptCalibProd,PromptCalibProdSiStrip"


def world() -> FakeTier0:
    fake = FakeTier0(fcsr=380001)
    fake.runs[380000] = T0Run(
        streams={"Express": SKIMS, "ExpressCosmics": ""},
        done={"Express"},
        reco_datasets=("ZeroBias", "JetMET0"),
    )
    fake.runs[380001] = T0Run(streams={"Express": SKIMS})
    fake.runs[380002] = T0Run(acq_era="Run2026B", streams={"Express": "PromptCalibProd"})
    return fake


def spy_for(fake: FakeTier0, max_new_runs: int = 20) -> T0DataServiceSpy:
    return T0DataServiceSpy(
        BASE,
        transport=asgi(fake.app()),
        clock=fixed_clock,
        settings=fast_settings(),
        max_new_runs=max_new_runs,
    )


async def test_full_cycle_reports_every_fact_kind() -> None:
    fake = world()
    scope = PollScope(
        now=NOW,
        runs=(RunScope(380000, stopped=True), RunScope(380001, stopped=False)),
        highest_known_run=380001,
    )
    async with spy_for(fake) as spy:
        report = await spy.poll(scope)
    assert report.errors == []
    assert report.source is Source.TIER0
    assert facts_of(report, FirstConditionSafeRun) == [FirstConditionSafeRun(380001)]
    assert facts_of(report, PromptRecoSwitch) == [PromptRecoSwitch(True)]
    express = {(f.run, f.stream): f for f in facts_of(report, ExpressConfig)}
    assert set(express) == {
        (380000, "Express"),
        (380000, "ExpressCosmics"),
        (380001, "Express"),
        (380002, "Express"),  # discovered: above highest_known_run
    }
    assert express[(380000, "Express")].producers == (
        "SiStripCalZeroBias",
        "PromptCalibProd",
        "PromptCalibProdSiStrip",
    )
    assert express[(380000, "ExpressCosmics")].producers == ()
    assert express[(380002, "Express")].acq_era == "Run2026B"
    assert express[(380000, "Express")].global_tag == "150X_dataRun3_Express_v1"
    # Only the stopped run's streams are asked about.
    assert facts_of(report, StreamDone) == [
        StreamDone(380000, "Express", True),
        StreamDone(380000, "ExpressCosmics", False),
    ]
    assert facts_of(report, RecoReleased) == [
        RecoReleased(380000, "150X_dataRun3_Prompt_v1", ("JetMET0", "ZeroBias"))
    ]
    assert report.requests == fake.hits.count()
    assert all(o.observed_at == NOW for o in report.observations)


async def test_streams_known_done_are_not_asked_again() -> None:
    fake = world()
    scope = PollScope(now=NOW, runs=(RunScope(380000, stopped=True, done_streams=("Express",)),))
    async with spy_for(fake) as spy:
        report = await spy.poll(scope)
    assert facts_of(report, StreamDone) == [StreamDone(380000, "ExpressCosmics", False)]
    assert fake.hits.count("run_stream_done") == 1


async def test_second_cycle_uses_validators_and_keeps_the_facts() -> None:
    fake = world()
    scope = PollScope(now=NOW, runs=(RunScope(380000, stopped=True),), highest_known_run=380002)
    seen_conditional: list[str] = []

    async def spy_on(request: httpx2.Request) -> None:
        if "if-none-match" in request.headers:
            seen_conditional.append(request.url.path)

    client = httpx2.AsyncClient(transport=asgi(fake.app()), event_hooks={"request": [spy_on]})
    async with client:
        spy = T0DataServiceSpy(BASE, client=client, clock=fixed_clock)
        first = await spy.poll(scope)
        second = await spy.poll(scope)
    assert second.errors == []
    assert [o.fact for o in second.observations] == [o.fact for o in first.observations]
    assert len(seen_conditional) == second.requests > 0


async def test_requests_grow_with_open_runs_not_with_history() -> None:
    async def requests_for(old_runs: int) -> int:
        fake = FakeTier0()
        for run in range(300000, 300000 + old_runs):
            fake.runs[run] = T0Run(streams={"Express": SKIMS}, done={"Express"})
        for run in (380000, 380001, 380002):
            fake.runs[run] = T0Run(streams={"Express": SKIMS, "Calibration": ""})
        scope = PollScope(
            now=NOW,
            runs=tuple(RunScope(r, stopped=True) for r in (380000, 380001, 380002)),
            highest_known_run=380002,
        )
        async with spy_for(fake) as spy:
            report = await spy.poll(scope)
        assert report.errors == []
        assert report.requests == fake.hits.count()
        return report.requests

    few, many = await requests_for(10), await requests_for(1000)
    # 3 global requests; per open run express_config, reco_config, 2 x run_stream_done.
    assert few == many == 3 + 3 * 4


async def test_discovery_is_bounded_and_continues_from_the_lowest_new_run() -> None:
    fake = FakeTier0()
    for run in range(380000, 380050):
        fake.runs[run] = T0Run(streams={"Express": SKIMS})
    scope = PollScope(now=NOW, highest_known_run=380009)
    async with spy_for(fake, max_new_runs=5) as spy:
        report = await spy.poll(scope)
    runs = sorted({f.run for f in facts_of(report, ExpressConfig)})
    assert runs == [380010, 380011, 380012, 380013, 380014]


async def test_first_start_discovers_only_the_newest_runs() -> None:
    fake = FakeTier0()
    for run in range(380000, 380050):
        fake.runs[run] = T0Run(streams={"Express": SKIMS})
    async with spy_for(fake, max_new_runs=3) as spy:
        report = await spy.poll(PollScope(now=NOW))
    assert sorted({f.run for f in facts_of(report, ExpressConfig)}) == [380047, 380048, 380049]


async def test_invalid_run_in_scope_is_an_error_without_a_request() -> None:
    fake = world()
    scope = PollScope(now=NOW, runs=(RunScope(7, stopped=True), RunScope(380001, stopped=False)))
    async with spy_for(fake) as spy:
        report = await spy.poll(scope)
    assert len(report.errors) == 1
    assert "run number" in report.errors[0].message
    assert report.errors[0].permanent
    assert {f.run for f in facts_of(report, ExpressConfig)} >= {380001}
    assert fake.hits.count("run=7") == 0


async def test_bad_items_are_dropped_and_the_rest_kept() -> None:
    """A row missing alca_skim, a row with extra fields, a 500 on one run, truncated JSON."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        path, run = request.url.path.rsplit("/", 1)[-1], request.url.params.get("run")
        if path == "firstconditionsaferun":
            return httpx2.Response(200, text='{"result": [3800')
        if path == "promptreco_status":
            return httpx2.Response(200, json={"result": [False], "extra": {"x": 1}})
        if path == "run_config":
            return httpx2.Response(503, text="Service Unavailable")
        if path == "express_config" and run == "380000":
            good = {"run": 380000, "stream": "Express", "alca_skim": "PromptCalibProd", "new": 1}
            bad = {"run": 380000, "stream": "Calibration", "global_tag": "GT"}
            return httpx2.Response(200, json={"result": [good, bad]})
        if path == "express_config":
            return httpx2.Response(500, text="<html>Internal error</html>")
        return httpx2.Response(200, json={"result": []})

    scope = PollScope(now=NOW, runs=(RunScope(380000, False), RunScope(380001, False)))
    spy = T0DataServiceSpy(
        BASE, transport=httpx2.MockTransport(handler), clock=fixed_clock, settings=fast_settings()
    )
    async with spy:
        report = await spy.poll(scope)
    assert facts_of(report, PromptRecoSwitch) == [PromptRecoSwitch(False)]
    assert [(f.run, f.stream, f.producers) for f in facts_of(report, ExpressConfig)] == [
        (380000, "Express", ("PromptCalibProd",))
    ]
    messages = sorted(e.message for e in report.errors)
    assert len(messages) == 4
    by_url = {e.url.rsplit("/", 1)[-1] if e.url else "": e for e in report.errors}
    assert "invalid JSON" in by_url["firstconditionsaferun"].message
    assert by_url["firstconditionsaferun"].raw == '{"result": [3800'
    assert by_url["run_config"].message == "HTTP 503" and not by_url["run_config"].permanent
    assert "alca_skim" in by_url["express_config?run=380000"].message
    assert json.loads(by_url["express_config?run=380000"].raw)["stream"] == "Calibration"
    assert by_url["express_config?run=380001"].raw == "<html>Internal error</html>"
    # 503 and 500 are retried (3 attempts each); JSON errors are not.
    assert report.requests == 1 + 1 + 3 + 1 + 3 + 2
