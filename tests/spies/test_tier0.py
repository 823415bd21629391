from __future__ import annotations

import json

import httpx2

from spyagency.domain.facts import (
    ExpressConfig,
    FirstConditionSafeRun,
    ItemProblem,
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


def spy_for(fake: FakeTier0) -> T0DataServiceSpy:
    return T0DataServiceSpy(
        BASE, transport=asgi(fake.app()), clock=fixed_clock, settings=fast_settings()
    )


PDS = ("ZeroBias",)


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
    # A running run: everything about it is asked again, now with validators.
    scope = PollScope(now=NOW, runs=(RunScope(380001, stopped=False),), highest_known_run=380002)
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
    async def requests_for(old_runs: int) -> tuple[int, int]:
        fake = FakeTier0()
        for run in range(300000, 300000 + old_runs):
            fake.runs[run] = T0Run(streams={"Express": SKIMS}, done={"Express"}, reco_datasets=PDS)
        for run in (380000, 380001, 380002):
            fake.runs[run] = T0Run(streams={"Express": SKIMS, "Calibration": ""})
        fake.runs[380000].reco_datasets = PDS  # released; the two after it are not
        scope = PollScope(
            now=NOW,
            runs=tuple(
                RunScope(r, stopped=True, acq_era="Run2026A") for r in (380000, 380001, 380002)
            ),
            highest_known_run=380002,
        )
        async with spy_for(fake) as spy:
            first, second = await spy.poll(scope), await spy.poll(scope)
        assert first.errors == second.errors == []
        assert first.requests + second.requests == fake.hits.count()
        return first.requests, second.requests

    few, many = await requests_for(10), await requests_for(1000)
    # 4 global requests; per stopped run express_config and 2 x run_stream_done (its streams
    # are not done, so its express configuration is not final yet); reco_config only for the
    # run not above the highest released one.
    assert few == many == (4 + 3 * 3 + 1, 4 + 3 * 3 + 1)


async def test_run_config_listing_is_the_latest_run_only() -> None:
    fake = FakeTier0()
    for run in range(300000, 300050):
        fake.runs[run] = T0Run(streams={"Express": SKIMS})
    async with spy_for(fake) as spy:
        await spy.poll(PollScope(now=NOW, highest_known_run=300049))
    (listing,) = [p for p in fake.hits.paths if "run_config" in p]
    assert listing.endswith("run_config?")


async def test_the_latest_run_above_the_known_ones_is_discovered_alone() -> None:
    """The runs between the highest known one and the latest are the OMS spy's to find."""
    fake = FakeTier0()
    for run in range(380000, 380050):
        fake.runs[run] = T0Run(acq_era="Run2026C", streams={"Express": SKIMS})
    async with spy_for(fake) as spy:
        report = await spy.poll(PollScope(now=NOW, highest_known_run=380009))
    express = facts_of(report, ExpressConfig)
    assert [(f.run, f.acq_era) for f in express] == [(380049, "Run2026C")]
    # The era came with the listing: no run_config?run=N for the new run.
    # No run_config?run=N for the new run, and no reco_config?run=N: none is released yet.
    assert fake.hits.count("run=") == 1  # express_config


async def test_no_new_run_when_the_latest_is_known() -> None:
    fake = FakeTier0()
    for run in range(380000, 380010):
        fake.runs[run] = T0Run(streams={"Express": SKIMS})
    async with spy_for(fake) as spy:
        report = await spy.poll(PollScope(now=NOW, highest_known_run=380009))
    assert facts_of(report, ExpressConfig) == []
    assert report.requests == 4  # FCSR, switch, latest run, latest release


async def test_first_start_discovers_the_latest_run_unless_discovery_is_off() -> None:
    fake = FakeTier0()
    for run in range(380000, 380050):
        fake.runs[run] = T0Run(streams={"Express": SKIMS})
    async with spy_for(fake) as spy:
        report = await spy.poll(PollScope(now=NOW))
    assert {f.run for f in facts_of(report, ExpressConfig)} == {380049}
    quiet = T0DataServiceSpy(
        BASE, transport=asgi(fake.app()), clock=fixed_clock, discover_new_runs=False
    )
    async with quiet:
        report = await quiet.poll(PollScope(now=NOW))
    assert facts_of(report, ExpressConfig) == []
    assert report.requests == 3  # no run_config without a run: nothing to discover
    assert fake.hits.count("run_config?") == 1  # the first spy's only


async def test_a_stopped_runs_express_config_is_asked_twice_until_restart() -> None:
    fake = world()
    run = RunScope(380000, stopped=True, done_streams=("Express", "ExpressCosmics"))
    stopped = PollScope(now=NOW, runs=(run,), highest_known_run=380002)
    async with spy_for(fake) as spy:
        first = await spy.poll(stopped)
        second = await spy.poll(stopped)  # confirms the first answer: final
        third = await spy.poll(stopped)
        fourth = await spy.poll(stopped)
    assert fake.hits.count("express_config") == 2
    assert len(facts_of(first, ExpressConfig)) == 2
    assert facts_of(second, ExpressConfig) == facts_of(first, ExpressConfig)
    assert facts_of(third, ExpressConfig) == facts_of(fourth, ExpressConfig) == []
    # reco_config?run=N is asked each cycle (the run is not above the highest released one).
    assert fake.hits.count("reco_config?run=380000") == 4
    # A rebuilt spy (a restart) has forgotten it and asks again.
    async with spy_for(fake) as rebuilt:
        again = await rebuilt.poll(stopped)
        for _ in range(2):
            await rebuilt.poll(stopped)
    assert facts_of(again, ExpressConfig) == facts_of(first, ExpressConfig)
    assert fake.hits.count("express_config") == 4


async def test_a_changed_express_answer_is_not_final() -> None:
    """Two answers in a row must agree before the configuration is final: a changed one
    (a garbled answer, or a stream configured late) starts the count again."""
    fake = world()
    run = RunScope(380000, stopped=True, done_streams=("Express", "ExpressCosmics", "Calib"))
    stopped = PollScope(now=NOW, runs=(run,), highest_known_run=380002)
    async with spy_for(fake) as spy:
        await spy.poll(stopped)
        fake.runs[380000].streams["Calib"] = ""  # configured after the first answer
        late = await spy.poll(stopped)
        await spy.poll(stopped)  # agrees with the one before: final
        await spy.poll(stopped)
    assert "Calib" in {f.stream for f in facts_of(late, ExpressConfig)}
    assert fake.hits.count("express_config") == 3


async def test_express_config_is_final_only_once_seen_while_stopped() -> None:
    fake = world()
    done = ("Express", "ExpressCosmics")
    running = PollScope(now=NOW, runs=(RunScope(380000, stopped=False),), highest_known_run=380002)
    busy = PollScope(now=NOW, runs=(RunScope(380000, stopped=True),), highest_known_run=380002)
    stopped = PollScope(
        now=NOW, runs=(RunScope(380000, stopped=True, done_streams=done),), highest_known_run=380002
    )
    gone = PollScope(now=NOW, highest_known_run=380002)
    async with spy_for(fake) as spy:
        for scope in (running, running, busy, busy, stopped, stopped):
            await spy.poll(scope)
        # Twice running, twice stopped with streams still flowing (a stream may still be
        # configured), twice stopped with every stream done (the second confirms the first).
        assert fake.hits.count("express_config") == 6
        await spy.poll(stopped)
        assert fake.hits.count("express_config") == 6
        # A run that leaves the scope is forgotten: back in scope, it is asked again.
        await spy.poll(gone)
        await spy.poll(stopped)
        assert fake.hits.count("express_config") == 7


async def test_an_incomplete_express_answer_is_asked_again() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        path = request.url.path.rsplit("/", 1)[-1]
        if path == "express_config":
            good = {"run": 380000, "stream": "Express", "alca_skim": "PromptCalibProd"}
            bad = {"run": 380000, "stream": "Calibration"}  # no alca_skim
            return httpx2.Response(200, json={"result": [good, bad]})
        if path == "run_config":
            return httpx2.Response(200, json={"result": [{"run": 380000, "acq_era": "A"}]})
        if path == "firstconditionsaferun":
            return httpx2.Response(200, json={"result": [380000]})
        if path in ("promptreco_status", "run_stream_done"):
            return httpx2.Response(200, json={"result": [True]})
        return httpx2.Response(200, json={"result": []})

    hits: list[str] = []

    async def count(request: httpx2.Request) -> None:
        hits.append(request.url.path)

    transport = httpx2.MockTransport(handler)
    client = httpx2.AsyncClient(transport=transport, event_hooks={"request": [count]})
    scope = PollScope(now=NOW, runs=(RunScope(380000, stopped=True),), highest_known_run=380000)
    async with client:
        spy = T0DataServiceSpy(BASE, client=client, clock=fixed_clock)
        for _ in range(2):
            report = await spy.poll(scope)
            assert len(report.errors) == 1
    assert sum(p.endswith("express_config") for p in hits) == 2


async def test_the_era_of_a_run_is_asked_once() -> None:
    fake = world()
    scope = PollScope(
        now=NOW,
        runs=(
            RunScope(380000, stopped=True),  # era unknown: asked once
            RunScope(380001, stopped=False),  # era unknown: asked once, though still running
            RunScope(380002, stopped=False, acq_era="Run2026B"),  # era from the scope
        ),
        highest_known_run=380002,
    )
    async with spy_for(fake) as spy:
        reports = [await spy.poll(scope) for _ in range(3)]
    assert fake.hits.count("run_config?run=380000") == 1
    assert fake.hits.count("run_config?run=380001") == 1
    assert fake.hits.count("run_config?run=380002") == 0
    # The remembered era keeps coming with the running run's express configuration.
    for report in reports:
        (running,) = [f for f in facts_of(report, ExpressConfig) if f.run == 380001]
        assert running.acq_era == "Run2026A"


async def test_an_era_unknown_to_the_tier0_is_asked_again_next_cycle() -> None:
    fake = world()
    scope = PollScope(now=NOW, runs=(RunScope(390000, stopped=True),), highest_known_run=390000)
    async with spy_for(fake) as spy:
        for _ in range(2):
            await spy.poll(scope)
    assert fake.hits.count("run_config?run=390000") == 2


async def test_requests_per_cycle_for_ten_stopped_runs() -> None:
    """Ten stopped runs with their streams done, the five lowest released: after the first
    cycle only reco_config, and only for the runs not above the highest released one."""
    fake = FakeTier0()
    runs = range(380000, 380010)
    for run in runs:
        released = PDS if run < 380005 else ()
        fake.runs[run] = T0Run(
            streams={"Express": SKIMS, "Calibration": ""}, reco_datasets=released
        )
    scope = PollScope(
        now=NOW,
        runs=tuple(
            RunScope(r, stopped=True, done_streams=("Calibration", "Express")) for r in runs
        ),
        highest_known_run=380009,
    )
    async with spy_for(fake) as spy:
        requests = [(await spy.poll(scope)).requests for _ in range(4)]
    # First cycle: 4 global, then per run its era (but the latest run's came with the listing)
    # and express_config, and reco_config for the five runs that may be released; second:
    # express_config again, to confirm; then reco_config only for those five (their release
    # must be seen).
    assert requests == [4 + 10 * 2 - 1 + 5, 4 + 10 + 5, 4 + 5, 4 + 5]


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

    # Eras known from the scope: run_config is asked once, without a run.
    runs = (RunScope(380000, False, acq_era="A"), RunScope(380001, False, acq_era="A"))
    scope = PollScope(now=NOW, runs=runs)
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
    # Per-run answers are evidence on their run (the bad row on its stream); the global
    # questions are the source's own failures.
    problems = {(p.run, p.item, p.stream) for p in facts_of(report, ItemProblem)}
    assert problems == {
        (380000, "express_config?run=380000&stream=Calibration", "Calibration"),
        (380001, "express_config?run=380001", None),
    }
    assert sorted(e.url.rsplit("/", 1)[-1] for e in report.source_errors if e.url) == [
        "firstconditionsaferun",
        "run_config",
    ]
    # 503 and 500 are retried (3 attempts each); JSON errors are not. The highest released
    # run is none (an empty reco_config): no reco_config?run=N.
    assert report.requests == 1 + 1 + 3 + 1 + 1 + 3


async def test_a_run_config_row_about_another_run_is_an_item_problem_and_no_era() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        path = request.url.path.rsplit("/", 1)[-1]
        if path == "run_config" and "run" in request.url.params:
            return httpx2.Response(200, json={"result": [{"run": 380001, "acq_era": "B"}]})
        if path == "express_config":
            row = {"run": 380000, "stream": "Express", "alca_skim": "PromptCalibProd"}
            return httpx2.Response(200, json={"result": [row]})
        if path == "firstconditionsaferun":
            return httpx2.Response(200, json={"result": [380000]})
        if path in ("promptreco_status", "run_stream_done"):
            return httpx2.Response(200, json={"result": [True]})
        return httpx2.Response(200, json={"result": []})

    scope = PollScope(now=NOW, runs=(RunScope(380000, stopped=True),), highest_known_run=380000)
    spy = T0DataServiceSpy(BASE, transport=httpx2.MockTransport(handler), clock=fixed_clock)
    async with spy:
        first, second = await spy.poll(scope), await spy.poll(scope)
    for report in (first, second):
        (error,) = report.errors
        # Evidence on run 380000 only: the source itself is healthy.
        assert "another run" in error.message and error.run == 380000 and report.ok
        (problem,) = facts_of(report, ItemProblem)
        assert (problem.run, problem.item) == (380000, "run_config?run=380000")
        # Without a known era the configuration is reported but not final: asked again.
        assert [f.acq_era for f in facts_of(report, ExpressConfig)] == [None]


async def test_reco_config_is_asked_only_up_to_the_highest_released_run() -> None:
    fake = world()  # 380000 released, 380001 and 380002 not
    scope = PollScope(
        now=NOW,
        runs=(RunScope(380000, stopped=True), RunScope(380001, stopped=True)),
        highest_known_run=380002,
    )
    async with spy_for(fake) as spy:
        report = await spy.poll(scope)
        assert fake.hits.count("reco_config?run=380000") == 1
        assert fake.hits.count("reco_config?run=380001") == 0
        assert [f.run for f in facts_of(report, RecoReleased)] == [380000]
        # Once 380001 is released it is the highest: asked, and its release seen.
        fake.runs[380001].reco_datasets = PDS
        report = await spy.poll(scope)
    assert fake.hits.count("reco_config?run=380001") == 1
    assert sorted(f.run for f in facts_of(report, RecoReleased)) == [380000, 380001]


async def test_every_run_is_asked_about_its_release_when_the_latest_release_is_unknown() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        path = request.url.path.rsplit("/", 1)[-1]
        if path == "reco_config" and "run" not in request.url.params:
            return httpx2.Response(500, text="<html>Internal error</html>")
        return httpx2.Response(200, json={"result": []})

    hits: list[str] = []

    async def count(request: httpx2.Request) -> None:
        hits.append(str(request.url))

    client = httpx2.AsyncClient(
        transport=httpx2.MockTransport(handler), event_hooks={"request": [count]}
    )
    scope = PollScope(
        now=NOW,
        runs=(RunScope(380000, stopped=True, acq_era="A"), RunScope(380001, stopped=True)),
        highest_known_run=380001,
    )
    async with client:
        spy = T0DataServiceSpy(BASE, client=client, clock=fixed_clock, settings=fast_settings())
        report = await spy.poll(scope)
    assert any(e.url and e.url.endswith("reco_config") for e in report.errors)
    assert sum("reco_config?run=" in h for h in hits) == 2


async def test_a_problem_read_fine_again_is_closed() -> None:
    fake = world()
    open_problems = (
        ("tier0", "express_config?run=380000"),
        ("tier0", "express_config?run=380000&stream=Express"),
        ("tier0", "run_stream_done?run=380000&stream=ExpressCosmics"),
        ("tier0", "express_config?run=3800001"),  # another run's, not closed here
    )
    scope = PollScope(
        now=NOW,
        runs=(RunScope(380000, stopped=True, open_problems=open_problems),),
        highest_known_run=380002,
    )
    async with spy_for(fake) as spy:
        report = await spy.poll(scope)
    closed = {p.item for p in facts_of(report, ItemProblem) if not p.open}
    assert closed == {
        "express_config?run=380000",
        "express_config?run=380000&stream=Express",
        "run_stream_done?run=380000&stream=ExpressCosmics",
    }
    assert report.errors == []


async def test_no_fcsr_while_nothing_is_locked() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("firstconditionsaferun"):
            return httpx2.Response(200, json={"result": [None]})
        if request.url.path.endswith("promptreco_status"):
            return httpx2.Response(200, json={"result": [True]})
        return httpx2.Response(200, json={"result": []})

    spy = T0DataServiceSpy(BASE, transport=httpx2.MockTransport(handler), clock=fixed_clock)
    async with spy:
        report = await spy.poll(PollScope(now=NOW, highest_known_run=380002))
    assert facts_of(report, FirstConditionSafeRun) == []
    assert report.errors == [] and report.ok


async def test_a_cut_reco_config_answer_is_asked_again_until_read() -> None:
    """Read during a fault (every run asked), then the run is above the highest released
    one: its open reco_config problem is still asked about, and closed once read."""
    fake = world()
    run = 380002
    item = f"reco_config?run={run}"
    scope = PollScope(
        now=NOW,
        runs=(RunScope(run, stopped=True, open_problems=(("tier0", item),)),),
        highest_known_run=run,
    )
    async with spy_for(fake) as spy:
        report = await spy.poll(scope)
    assert {p.item for p in facts_of(report, ItemProblem) if not p.open} == {item}
