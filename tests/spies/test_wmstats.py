"""The WMStats spy on the real t0_reqmon shapes (tests/reality/test_wmstats.py traces them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spyagency.domain.facts import HarvestJob, ItemProblem
from spyagency.domain.states import HarvestJobState, Source
from spyagency.spies.failures import SchemaViolation
from spyagency.spies.scope import PollScope, RunScope
from spyagency.spies.wmstats import WmStatsSpy
from spyagency.spies.wmstats_rows import harvest_producer, summarise_jobdetail
from tests.spies.fakes import NOW, facts_of, fast_settings, fixed_clock

BASE = "http://wmstats.test/t0_reqmon/data/"
RUN = 380000
LFN = f"/store/express/tier0_harvest/2026/Run{RUN}@SiStripApvGain_pcl@a1b2c3d4-0001"
STOPPED = PollScope(now=NOW, runs=(RunScope(RUN, True),))


def name_of(stream: str, run: int = RUN) -> str:
    return f"Express_Run{run}_Stream{stream}"


def task(stream: str, producer: str) -> str:
    skim = f"ExpressAlcaSkimwrite_Stream{stream}_ALCARECO"
    return f"/{name_of(stream)}/Express/{skim}/{skim}AlcaHarvestALCARECOStream{producer}"


def sample(state: str, *, lfns: tuple[str, ...] = (), details: str = "") -> dict[str, object]:
    errors = {"cmsRun1": [{"type": "Fatal Exception", "details": details}]} if details else {}
    return {
        "type": "jobsummary",
        "state": state,
        "retrycount": 1,
        "errors": errors,
        "output": [{"type": "output", "lfn": lfn} for lfn in lfns],
    }


def job(state: str, code: int = 0, **kwargs: object) -> dict[str, object]:
    """One state of one task: exit code -> site -> {errorCount, samples}."""
    samples = [sample(state, **kwargs)]  # type: ignore[arg-type]
    return {state: {str(code): {"T0_CH_CERN": {"errorCount": 1, "samples": samples}}}}


def entry(stream: str, status: str, run: int = RUN) -> dict[str, object]:
    return {
        "RequestName": name_of(stream, run),
        "Run": run,
        "RequestStatus": status,
        "RequestTransition": [{"Status": "new", "UpdateTime": 1780255000}],
    }


@dataclass
class FakeWmStats:
    """A requestcache and per-request jobdetail answers; records the paths asked."""

    statuses: dict[str, str] = field(
        default_factory=lambda: {
            "Express": "completed",
            "ExpressAlignment": "Harvesting",
            "Calibration": "Harvesting",
        }
    )
    tasks: dict[str, dict[str, object]] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self.handle)

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path.rsplit("/", 1)[-1]
        self.asked.append(path)
        if path == "requestcache":
            cache = {name_of(s): entry(s, status) for s, status in self.statuses.items()}
            cache[name_of("Express", RUN + 1)] = entry("Express", "Merge", RUN + 1)
            return httpx2.Response(200, json={"result": [cache]})
        if path in self.raw:
            return httpx2.Response(200, text=self.raw[path])
        tasks = self.tasks.get(path)
        return httpx2.Response(200, json={"result": [{path: tasks} if tasks else {}]})

    def count(self, stream: str) -> int:
        return self.asked.count(name_of(stream))


def spy_on(fake: FakeWmStats, **options: object) -> WmStatsSpy:
    return WmStatsSpy(BASE, transport=fake.transport(), clock=fixed_clock, **options)  # type: ignore[arg-type]


SUCCESS_TASKS: dict[str, object] = {
    task("Express", "PromptCalibProdSiStripGains"): {
        **job("jobfailed", 50660, details="Job exceeded maxRSS"),
        **job("success", lfns=(LFN + ".db", LFN + ".txt")),
    },
}


async def test_one_harvest_job_per_producer_task_with_summaries() -> None:
    fake = FakeWmStats(
        tasks={
            name_of("Express"): {
                **SUCCESS_TASKS,
                task("Express", "PromptCalibProdSiPixelAli"): job(
                    "jobpaused", 8021, details="file could not be opened"
                ),
                f"/{name_of('Express')}/Express": job("jobfailed", 8001, details="not a harvest"),
            },
            name_of("Calibration"): {
                task("Calibration", "PromptCalibProdEcalPedestals"): job(
                    "success", lfns=("/no/output",)
                )
            },
        }
    )
    scope = PollScope(now=NOW, runs=(RunScope(RUN, True), RunScope(RUN + 1, False)))
    async with spy_on(fake) as spy:
        report = await spy.poll(scope)
    assert report.errors == [] and report.source is Source.WMSTATS
    jobs = {job.producer: job for job in facts_of(report, HarvestJob)}
    assert jobs == {
        "PromptCalibProdSiStripGains": HarvestJob(
            RUN,
            "Express",
            HarvestJobState.SUCCESS,
            outputs=(LFN + ".db", LFN + ".txt"),
            detail="Job exceeded maxRSS",
            producer="PromptCalibProdSiStripGains",
        ),
        "PromptCalibProdSiPixelAli": HarvestJob(
            RUN,
            "Express",
            HarvestJobState.PAUSED,
            detail="file could not be opened",
            producer="PromptCalibProdSiPixelAli",
        ),
        "PromptCalibProdEcalPedestals": HarvestJob(
            RUN,
            "Calibration",
            HarvestJobState.SUCCESS,
            outputs=("/no/output",),
            producer="PromptCalibProdEcalPedestals",
        ),
    }
    # requestcache + 3 jobdetail (run 380001 still running).
    assert report.requests == len(fake.asked) == 4


async def test_no_stopped_run_means_no_request() -> None:
    fake = FakeWmStats()
    async with spy_on(fake) as spy:
        report = await spy.poll(PollScope(now=NOW, runs=(RunScope(RUN + 1, False),)))
    assert report.requests == 0 and report.observations == [] and report.errors == []


async def test_a_completed_request_without_job_summaries_yields_nothing() -> None:
    """A harvest that worked at its first try leaves no job summary (WMCore ChangeState):
    no document is no evidence, in particular not of "no output"."""
    fake = FakeWmStats(statuses={"Express": "completed", "Calibration": "completed"})
    async with spy_on(fake) as spy:
        report = await spy.poll(STOPPED)
    assert report.errors == [] and report.requests == 3
    assert facts_of(report, HarvestJob) == []


async def test_faults_of_one_request_stay_with_it() -> None:
    fake = FakeWmStats(
        statuses={"Express": "completed", "Calibration": "Harvesting", "HLTMonitor": "completed"},
        tasks={
            name_of("Express"): {
                task("Express", "PromptCalibProdBeamSpot"): job("jobfailed", 99109)
            }
        },
        raw={name_of("Calibration"): f'{{"result": [{{"{name_of("Calibration")}"'},
    )
    refused = name_of("HLTMonitor")

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith(refused):
            raise httpx2.ConnectError("Connection refused", request=request)
        return fake.handle(request)

    spy = WmStatsSpy(
        BASE,
        transport=httpx2.MockTransport(handler),
        clock=fixed_clock,
        settings=fast_settings(attempts=2),
    )
    async with spy:
        report = await spy.poll(STOPPED)
    assert facts_of(report, HarvestJob) == [
        HarvestJob(
            RUN,
            "Express",
            HarvestJobState.FAILED,
            detail="jobfailed with exit code 99109 at T0_CH_CERN",
            producer="PromptCalibProdBeamSpot",
        )
    ]
    (problem,) = facts_of(report, ItemProblem)
    assert problem.item == f"jobdetail/{name_of('Calibration')}"
    assert problem.stream == "Calibration" and "invalid JSON" in problem.message
    # The refused connection is the source's; the cut answer is one request's.
    (failure,) = report.source_errors
    assert "Connection refused" in failure.message and not report.ok


async def test_an_item_read_fine_again_closes_its_problem() -> None:
    fake = FakeWmStats(statuses={"Express": "Harvesting"}, raw={name_of("Express"): "{"})
    item = f"jobdetail/{name_of('Express')}"
    scope = PollScope(now=NOW, runs=(RunScope(RUN, True, open_problems=(("wmstats", item),)),))
    async with spy_on(fake) as spy:
        broken = await spy.poll(scope)
        del fake.raw[name_of("Express")]
        healed = await spy.poll(scope)
    assert [p.open for p in facts_of(broken, ItemProblem)] == [True]
    (closed,) = facts_of(healed, ItemProblem)
    assert closed.item == item and not closed.open and healed.errors == []


async def test_a_completed_request_is_asked_twice_until_the_spy_restarts() -> None:
    """A completed request's jobdetail is final once read twice alike; the running ones
    (ExpressAlignment, Calibration) are asked at every cycle."""
    fake = FakeWmStats(
        tasks={
            name_of("Express"): SUCCESS_TASKS,
            name_of("ExpressAlignment"): {
                task("ExpressAlignment", "PromptCalibProdBeamSpotHP"): job("jobpaused", 8021)
            },
        }
    )
    async with spy_on(fake) as spy:
        first = await spy.poll(STOPPED)
        confirming = await spy.poll(STOPPED)
        later = [await spy.poll(STOPPED) for _ in range(3)]
    assert {j.stream for j in facts_of(first, HarvestJob)} == {"Express", "ExpressAlignment"}
    assert first.requests == confirming.requests == 4  # requestcache + 3 jobdetail
    for report in later:
        assert report.errors == [] and report.requests == 3
        assert {j.stream for j in facts_of(report, HarvestJob)} == {"ExpressAlignment"}
    assert fake.count("Express") == 2
    assert fake.count("ExpressAlignment") == fake.count("Calibration") == 5

    async with spy_on(fake) as spy:  # a restart remembers nothing
        again = await spy.poll(STOPPED)
    assert again.requests == 4 and fake.count("Express") == 3
    assert facts_of(again, HarvestJob)[0] == facts_of(first, HarvestJob)[0]


async def test_a_clean_completed_request_settles_too() -> None:
    fake = FakeWmStats(statuses={"Express": "completed"})
    scope = PollScope(now=NOW, runs=(RunScope(RUN, True, streams=("Express",)),))
    async with spy_on(fake) as spy:
        reports = [await spy.poll(scope) for _ in range(4)]
    assert [r.requests for r in reports] == [2, 2, 0, 0]
    assert all(r.observations == [] for r in reports)


async def test_a_run_leaving_the_scope_is_forgotten() -> None:
    fake = FakeWmStats(tasks={name_of("Express"): SUCCESS_TASKS})
    released = PollScope(now=NOW, runs=(RunScope(RUN + 1, False),))
    async with spy_on(fake) as spy:
        for _ in range(3):
            await spy.poll(STOPPED)
        assert fake.count("Express") == 2
        await spy.poll(released)  # run 380000 left the scope
        back = await spy.poll(STOPPED)
    assert fake.count("Express") == 3
    assert "Express" in {job.stream for job in facts_of(back, HarvestJob)}


async def test_a_request_is_settled_only_by_a_read_made_once_it_completed() -> None:
    """A running request is asked every cycle, including the cycle in which it completes
    (its last jobs may have finished in between); only later cycles skip it."""
    fake = FakeWmStats(statuses={"Express": "Harvesting"})
    async with spy_on(fake) as spy:
        running = [await spy.poll(STOPPED) for _ in range(3)]
        assert fake.count("Express") == 3
        assert all(facts_of(r, HarvestJob) == [] for r in running)  # no summary yet
        fake.tasks[name_of("Express")] = {
            task("Express", "PromptCalibProdSiStripGains"): job("success", lfns=(LFN + ".db",))
        }
        fake.statuses["Express"] = "completed"
        done = await spy.poll(STOPPED)
        confirmed = await spy.poll(STOPPED)
        after = await spy.poll(STOPPED)
    expected = HarvestJob(
        RUN,
        "Express",
        HarvestJobState.SUCCESS,
        outputs=(LFN + ".db",),
        producer="PromptCalibProdSiStripGains",
    )
    assert facts_of(done, HarvestJob) == facts_of(confirmed, HarvestJob) == [expected]
    assert fake.count("Express") == 5 and after.requests == 1 and after.observations == []


async def test_a_garbled_answer_of_a_completed_request_is_not_final() -> None:
    """One answer that differs from the next never settles the request: only two equal
    answers in a row do, so the true one is read and reported."""
    good = {task("Express", "PromptCalibProdSiStripGains"): job("success", lfns=(LFN + ".db",))}
    answers: list[dict[str, object]] = [{}, good, good]  # first: the tasks went missing
    fake = FakeWmStats(statuses={"Express": "completed"})
    original: Callable[[httpx2.Request], httpx2.Response] = fake.handle

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith(name_of("Express")):
            fake.tasks[name_of("Express")] = answers[min(fake.count("Express"), 2)]
        return original(request)

    spy = WmStatsSpy(BASE, transport=httpx2.MockTransport(handler), clock=fixed_clock)
    async with spy:
        reports = [await spy.poll(STOPPED) for _ in range(4)]
    assert fake.count("Express") == 3  # garbled, true, true again: settled
    (second,) = facts_of(reports[1], HarvestJob)
    assert second.outputs == (LFN + ".db",)
    assert reports[3].requests == 1


async def test_nothing_is_asked_once_every_stream_of_every_stopped_run_is_settled() -> None:
    fake = FakeWmStats(tasks={name_of("Express"): SUCCESS_TASKS})
    scope = PollScope(now=NOW, runs=(RunScope(RUN, True, streams=("Express",)),))
    async with spy_on(fake) as spy:
        reports = [await spy.poll(scope) for _ in range(4)]
    assert [r.requests for r in reports][2:] == [0, 0]  # read twice alike: settled
    growing = PollScope(now=NOW, runs=(RunScope(RUN, True, streams=("Express", "New")),))
    async with spy_on(fake) as spy:
        for _ in range(3):
            report = await spy.poll(growing)
    assert report.requests >= 1  # a stream without its settled request: asked again


SKIM = "ExpressAlcaSkimwrite_StreamExpress_ALCARECO"
HARVEST = f"{SKIM}AlcaHarvestALCARECOStreamPromptCalibProdSiPixelAli"


@pytest.mark.parametrize(
    ("path", "producer"),
    [
        (f"/R/Express/{SKIM}/{HARVEST}", "PromptCalibProdSiPixelAli"),
        (f"/R/Express/{SKIM}/{SKIM}AlcaHarvestALCARECOStreamPromptCalibProd", "PromptCalibProd"),
        (f"/R/Express/{SKIM}/{HARVEST}/{HARVEST}ConditionSqlite", None),
        (
            f"/R/Express/{SKIM}/{HARVEST}/{SKIM}ALCARECOStreamPromptCalibProdSiPixelAli"
            "AlcaHarvestLogCollect",
            None,
        ),
        (f"/R/Express/{SKIM}", None),
        (f"/R/Express/{SKIM}/AlcaSkimLogCollect", None),
        ("/R/Express", None),
        (f"/R/Express/{SKIM}/{SKIM}AlcaHarvestALCAPROMPT", ""),  # a harvest, producer unknown
        ("", None),
    ],
)
def test_harvest_tasks_and_their_producers(path: str, producer: str | None) -> None:
    assert harvest_producer(path) == producer


def test_the_old_shape_without_a_site_level_is_refused() -> None:
    old = {
        "result": [{"R": {f"/R/{HARVEST}": {"success": {"0": {"errorCount": 0, "samples": []}}}}}]
    }
    with pytest.raises(SchemaViolation):
        summarise_jobdetail(old, "R")


@given(
    st.dictionaries(
        st.sampled_from(["success", "jobfailed", "jobpaused", "jobcooloff", "submitfailed", "new"]),
        st.just(1),
        max_size=6,
    )
)
def test_a_paused_job_wins_and_success_beats_failures(states: dict[str, int]) -> None:
    tasks: dict[str, object] = {f"/R/{HARVEST}": {}}
    for state in states:
        tasks[f"/R/{HARVEST}"] = {**tasks[f"/R/{HARVEST}"], **job(state)}  # type: ignore[dict-item]
    summaries = summarise_jobdetail(json.loads(json.dumps({"result": [{"R": tasks}]})), "R")
    known = set(states) - {"new"}
    if not known:
        assert summaries == {}
        return
    (summary,) = summaries.values()
    if "jobpaused" in known:
        assert summary.state is HarvestJobState.PAUSED
    elif "success" in known:
        assert summary.state is HarvestJobState.SUCCESS
    else:
        assert summary.state is HarvestJobState.FAILED
