from __future__ import annotations

import httpx2

from spyagency.domain.facts import HarvestJob
from spyagency.domain.states import HarvestJobState, Source
from spyagency.spies.scope import PollScope, RunScope
from spyagency.spies.wmstats import WmStatsSpy
from tests.spies.fakes import NOW, FakeWmStats, asgi, facts_of, fast_settings, fixed_clock

BASE = "http://wmstats.test/t0_reqmon/data/"
LFN = "/store/express/tier0_harvest/2026/Run380000@SiStripApvGain_pcl@a1b2c3d4-0001"


async def test_harvest_jobs_of_stopped_open_runs() -> None:
    fake = FakeWmStats(
        details={
            "Express_Run380000_StreamExpress": "wmstats_jobdetail_success.json",
            "Express_Run380000_StreamExpressAlignment": "wmstats_jobdetail_paused.json",
            "Express_Run380000_StreamCalibration": "wmstats_jobdetail_nooutput.json",
        }
    )
    scope = PollScope(now=NOW, runs=(RunScope(380000, True), RunScope(380001, False)))
    async with WmStatsSpy(BASE, transport=asgi(fake.app()), clock=fixed_clock) as spy:
        report = await spy.poll(scope)
    assert report.errors == [] and report.source is Source.WMSTATS
    jobs = {job.stream: job for job in facts_of(report, HarvestJob)}
    assert jobs["Express"] == HarvestJob(
        380000,
        "Express",
        HarvestJobState.SUCCESS,
        outputs=(
            LFN + ".db",
            LFN + ".txt",
            "/store/unmerged/data/logs/prod/2026/6/1/Express_Run380000/AlcaHarvest-logArchive.tar.gz",
        ),
        detail="Job exceeded maxRSS",
    )
    assert jobs["ExpressAlignment"].state is HarvestJobState.PAUSED
    assert "could not be opened" in jobs["ExpressAlignment"].detail
    assert jobs["Calibration"] == HarvestJob(
        380000, "Calibration", HarvestJobState.SUCCESS, outputs=("/no/output",)
    )
    # requestcache + 3 jobdetail (run 380001 still running, 379000 not open).
    assert report.requests == fake.hits.count() == 4


async def test_no_stopped_run_means_no_request() -> None:
    fake = FakeWmStats()
    async with WmStatsSpy(BASE, transport=asgi(fake.app()), clock=fixed_clock) as spy:
        report = await spy.poll(PollScope(now=NOW, runs=(RunScope(380001, False),)))
    assert report.requests == 0 and report.observations == [] and report.errors == []


async def test_failed_job_bad_requests_and_faults() -> None:
    cache = {
        "result": [
            {
                "Express_Run380000_StreamExpress": {
                    "RequestType": "Express",
                    "Run": 380000,
                    "Stream": "Express",
                },
                "Express_Run380000_StreamCalibration": {"RequestType": "Express"},  # from the name
                "Express_Run380000_StreamExpressCosmics": {"RequestType": "Express", "Run": "soon"},
                "bad name/../x": {"RequestType": "Express", "Run": 380000, "Stream": "Express"},
                "Express_Run380000_StreamHLTMonitor": {
                    "RequestType": "Express",
                    "Run": 380000,
                    "Stream": "HLTMonitor",
                },
            }
        ]
    }
    failed = {
        "result": [
            {
                "Express_Run380000_StreamExpress": {
                    "/Express_Run380000_StreamExpress/Express/AlcaHarvestALCAPROMPT": {
                        "jobfailed": {"99109": {"errorCount": 2, "samples": []}}
                    }
                }
            }
        ]
    }

    def handler(request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if path.endswith("requestcache"):
            return httpx2.Response(200, json=cache)
        if path.endswith("StreamExpress"):
            return httpx2.Response(200, json=failed)
        if path.endswith("StreamCalibration"):
            return httpx2.Response(200, text='{"result": [{"Express_Run380000_StreamCalibration"')
        raise httpx2.ConnectError("Connection refused", request=request)

    spy = WmStatsSpy(
        BASE,
        transport=httpx2.MockTransport(handler),
        clock=fixed_clock,
        settings=fast_settings(attempts=2),
    )
    async with spy:
        report = await spy.poll(PollScope(now=NOW, runs=(RunScope(380000, True),)))
    assert [o.fact for o in report.observations] == [
        HarvestJob(
            380000, "Express", HarvestJobState.FAILED, detail="jobfailed with exit code 99109"
        )
    ]
    assert len(report.errors) == 4
    assert sum("Connection refused" in e.message for e in report.errors) == 1
    assert sum("invalid JSON" in e.message for e in report.errors) == 1
    # Bad request entries are permanent; a refused connection or a cut answer may heal.
    assert sum(e.permanent for e in report.errors) == 2


async def test_a_completed_request_without_harvest_job_means_no_output() -> None:
    """A stream without express data is never harvested: the request completes with no
    AlcaHarvest task, which is positive evidence of no payload (not mere silence)."""
    fake = FakeWmStats(details={})
    scope = PollScope(now=NOW, runs=(RunScope(380000, True),))
    async with WmStatsSpy(BASE, transport=asgi(fake.app()), clock=fixed_clock) as spy:
        report = await spy.poll(scope)
    jobs = {job.stream: job for job in facts_of(report, HarvestJob)}
    completed = {s for s, j in jobs.items() if j.outputs == ("/no/output",)}
    assert completed, "completed requests of the fixture must report no output"
    for stream in completed:
        assert jobs[stream].state is HarvestJobState.SUCCESS
        assert "without an AlcaHarvest job" in jobs[stream].detail


def hits_of(fake: FakeWmStats, stream: str) -> int:
    wanted = f"jobdetail/Express_Run380000_Stream{stream}"
    return sum(1 for path in fake.hits.paths if path.split("?")[0].endswith(wanted))


async def test_a_completed_request_is_asked_twice_until_the_spy_restarts() -> None:
    """The fixture's Express request is completed: its jobdetail is final once read twice
    alike (a second answer confirms the first). The Harvesting ones (ExpressAlignment,
    Calibration) are asked at every cycle."""
    fake = FakeWmStats(
        details={
            "Express_Run380000_StreamExpress": "wmstats_jobdetail_success.json",
            "Express_Run380000_StreamExpressAlignment": "wmstats_jobdetail_paused.json",
        }
    )
    scope = PollScope(now=NOW, runs=(RunScope(380000, True),))
    async with WmStatsSpy(BASE, transport=asgi(fake.app()), clock=fixed_clock) as spy:
        first = await spy.poll(scope)
        confirming = await spy.poll(scope)
        later = [await spy.poll(scope) for _ in range(3)]
    assert {j.stream for j in facts_of(first, HarvestJob)} == {"Express", "ExpressAlignment"}
    assert first.requests == confirming.requests == 4  # requestcache + 3 jobdetail
    for report in later:
        assert report.errors == []
        assert report.requests == 3  # requestcache + the 2 requests not completed
        assert {j.stream for j in facts_of(report, HarvestJob)} == {"ExpressAlignment"}
    assert hits_of(fake, "Express") == 2
    assert hits_of(fake, "ExpressAlignment") == hits_of(fake, "Calibration") == 5

    # A new spy (a restart) remembers nothing: everything is asked again.
    async with WmStatsSpy(BASE, transport=asgi(fake.app()), clock=fixed_clock) as spy:
        again = await spy.poll(scope)
    assert again.requests == 4 and hits_of(fake, "Express") == 3
    assert facts_of(again, HarvestJob)[0] == facts_of(first, HarvestJob)[0]


async def test_a_run_leaving_the_scope_is_forgotten() -> None:
    fake = FakeWmStats(
        details={"Express_Run380000_StreamExpress": "wmstats_jobdetail_success.json"}
    )
    stopped = PollScope(now=NOW, runs=(RunScope(380000, True),))
    released = PollScope(now=NOW, runs=(RunScope(380001, False),))
    async with WmStatsSpy(BASE, transport=asgi(fake.app()), clock=fixed_clock) as spy:
        for _ in range(3):
            await spy.poll(stopped)
        assert hits_of(fake, "Express") == 2
        await spy.poll(released)  # run 380000 left the scope
        back = await spy.poll(stopped)
    assert hits_of(fake, "Express") == 3
    assert "Express" in {job.stream for job in facts_of(back, HarvestJob)}


async def test_a_request_is_settled_only_by_a_read_made_once_it_completed() -> None:
    """A running request is asked every cycle, including the cycle in which it completes
    (its last jobs may have finished in between); only later cycles skip it."""
    name = "Express_Run380000_StreamExpress"
    status = {"now": "Harvesting"}
    jobs: dict[str, dict[str, object]] = {}
    asked: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        asked.append(request.url.path.rsplit("/", 1)[-1])
        if request.url.path.endswith("requestcache"):
            entry = {"RequestType": "Express", "RequestStatus": status["now"]}
            return httpx2.Response(200, json={"result": [{name: entry}]})
        return httpx2.Response(200, json={"result": [{name: jobs}]})

    scope = PollScope(now=NOW, runs=(RunScope(380000, True),))
    spy = WmStatsSpy(BASE, transport=httpx2.MockTransport(handler), clock=fixed_clock)
    async with spy:
        running = [await spy.poll(scope) for _ in range(3)]
        assert asked.count(name) == 3
        assert all(facts_of(r, HarvestJob) == [] for r in running)  # no harvest job yet
        jobs["/x/Express/AlcaHarvestALCAPROMPT"] = {
            "success": {"0": {"errorCount": 0, "samples": [{"output": [{"lfn": LFN + ".db"}]}]}}
        }
        status["now"] = "completed"
        done = await spy.poll(scope)
        confirmed = await spy.poll(scope)
        after = await spy.poll(scope)
    assert (
        facts_of(done, HarvestJob)
        == facts_of(confirmed, HarvestJob)
        == [HarvestJob(380000, "Express", HarvestJobState.SUCCESS, outputs=(LFN + ".db",))]
    )
    assert asked.count(name) == 5 and after.requests == 1 and after.observations == []


async def test_a_garbled_answer_of_a_completed_request_is_not_final() -> None:
    """One answer that differs from the next (a garbled one) never settles the request: only
    two equal answers in a row do, so the true one is read and reported."""
    name = "Express_Run380000_StreamExpress"
    good = {
        "/x/Express/AlcaHarvestALCAPROMPT": {
            "success": {"0": {"errorCount": 0, "samples": [{"output": [{"lfn": LFN + ".db"}]}]}}
        }
    }
    answers: list[dict[str, object]] = [{}, good, good]  # first: the jobs part went missing
    asked: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("requestcache"):
            entry = {"RequestType": "Express", "RequestStatus": "completed"}
            return httpx2.Response(200, json={"result": [{name: entry}]})
        asked.append(name)
        jobs = answers[min(len(asked), len(answers)) - 1]
        return httpx2.Response(200, json={"result": [{name: jobs}]})

    scope = PollScope(now=NOW, runs=(RunScope(380000, True),))
    spy = WmStatsSpy(BASE, transport=httpx2.MockTransport(handler), clock=fixed_clock)
    async with spy:
        reports = [await spy.poll(scope) for _ in range(4)]
    assert len(asked) == 3  # garbled, true, true again: settled
    (second,) = facts_of(reports[1], HarvestJob)
    assert second.outputs == (LFN + ".db",)
    assert reports[3].requests == 1


async def test_nothing_is_asked_once_every_stream_of_every_stopped_run_is_settled() -> None:
    fake = FakeWmStats(
        details={"Express_Run380000_StreamExpress": "wmstats_jobdetail_success.json"}
    )
    # The fixture's Express request is completed; its other streams are not this run's.
    scope = PollScope(now=NOW, runs=(RunScope(380000, True, streams=("Express",)),))
    async with WmStatsSpy(BASE, transport=asgi(fake.app()), clock=fixed_clock) as spy:
        reports = [await spy.poll(scope) for _ in range(4)]
    assert [r.requests for r in reports][2:] == [0, 0]  # read twice alike: settled
    assert reports[0].requests > 1 and reports[1].requests > 1
    growing = PollScope(now=NOW, runs=(RunScope(380000, True, streams=("Express", "New")),))
    async with WmStatsSpy(BASE, transport=asgi(fake.app()), clock=fixed_clock) as spy:
        for _ in range(3):
            report = await spy.poll(growing)
    assert report.requests >= 1  # a stream without its settled request: asked again
