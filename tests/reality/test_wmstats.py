"""WMStats (t0_reqmon) answers written from the code that produces them, through the spy.

Producers of the shapes (dmwm/WMCore unless said otherwise):

* ``requestcache``: src/python/WMCore/WMStats/Service/ActiveRequestJobInfo.py answers
  ``rows([DataCache.getlatestJobData()])``, i.e. ``{"result": [{<name>: <doc>}]}``. The Tier-0
  writes only ``RequestName`` and ``Run`` (dmwm/T0
  src/python/T0Component/Tier0Feeder/Tier0FeederPoller.py, ``feedCouchMonitoring``);
  src/python/WMCore/Services/RequestDB/RequestDBWriter.py adds ``RequestStatus`` and the
  ``RequestTransition`` history, and src/python/WMCore/Services/WMStats/WMStatsReader.py
  (``_combineRequestAndJobData``) attaches ``AgentJobInfo``.
* ``AgentJobInfo`` at task level: src/python/WMComponent/AnalyticsDataCollector/
  DataCollectAPI.py (``convertToRequestCouchDoc``, ``_convertToStatusSiteFormat``; the Tier-0
  agent runs it with ``summaryLevel = "task"``, etc/WMAgentConfig.py) counts every job of a
  task by state from the agent's job database, and
  src/python/WMCore/WMBS/MySQL/Subscriptions/CountFinishedSubscriptionsByTask.py adds
  ``subscription_status`` {finished, open, total, updated}.
* ``jobdetail/<name>``: src/python/WMCore/WMStats/Service/RequestInfo.py (``JobDetailInfo``)
  answers ``rows([getTaskJobSummaryByRequest(...)])``; the nesting request -> task -> state ->
  exit code -> site -> {errorCount, samples} is built in
  src/python/WMCore/Services/WMStats/WMStatsPycurl.py (``jobDetailByTasksPycurl``).
* The samples are job summaries from src/python/WMCore/JobStateMachine/ChangeState.py, written
  only ``if (job["retry_count"] > 0) or (newstate != 'success')``.
* Task paths: src/python/WMCore/WMSpec/StdSpecs/Express.py (``addAlcaHarvestTask``,
  ``addConditionTask``, ``addLogCollectTask``); the alca skim's output module label
  ``write_Stream<S>_ALCARECO`` comes from the same file and dmwm/T0
  src/python/T0/RunConfig/RunConfigAPI.py (special dataset ``Stream<S>``).
* Outputs: src/python/WMCore/WMSpec/Steps/Executors/AlcaHarvest.py copies
  ``Run<run>@<inputtag>@<uuid>.db/.txt`` below the condition LFN base (dmwm/T0
  RunConfigAPI.py appends the year) or, when no sqlite file came out, reports the placeholder
  ``/no/output`` that dmwm/T0 src/python/T0/ConditionUpload/ConditionUploadAPI.py skips.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx2

from spyagency.domain.facts import HarvestJob, HarvestTaskCounts, ItemProblem
from spyagency.domain.states import HarvestJobState
from spyagency.spies.scope import PollScope, RunScope, SpyReport
from spyagency.spies.wmstats import WmStatsSpy
from tests.spies.fakes import NOW, facts_of, fixed_clock

BASE = "https://cmsweb.cern.ch/t0_reqmon/data/"
RUN = 380000
SITE = "T0_CH_CERN"
AGENT = "vocms0313.cern.ch:9999"
UUID = "6f1c2e9a-3b1d-11f1-9d2c-b8ca3a6f1e10"


def _skim(stream: str) -> str:
    # Express.py: "%sAlcaSkim%s" % (expressTask.name(), "write_%s_%s" % (PD, "ALCARECO")).
    return f"ExpressAlcaSkimwrite_Stream{stream}_ALCARECO"


def harvest_task(stream: str, producer: str) -> str:
    # Express.py addAlcaHarvestTask: parentTask.addTask("%sAlcaHarvest%s" % (parent, label)).
    skim = _skim(stream)
    return (
        f"/Express_Run{RUN}_Stream{stream}/Express/{skim}/{skim}AlcaHarvestALCARECOStream{producer}"
    )


def log_collect_task(stream: str, producer: str) -> str:
    # Express.py: taskName="%s%sAlcaHarvestLogCollect" % (parentTask.name(), label).
    skim = _skim(stream)
    name = f"{skim}ALCARECOStream{producer}AlcaHarvestLogCollect"
    return f"{harvest_task(stream, producer)}/{name}"


def condition_task(stream: str, producer: str) -> str:
    # Express.py addConditionTask: "%sCondition%s" % (harvestTask.name(), "Sqlite").
    harvest = harvest_task(stream, producer)
    return f"{harvest}/{harvest.rsplit('/', 1)[-1]}ConditionSqlite"


def transitions(*steps: str) -> list[dict[str, object]]:
    return [{"Status": s, "UpdateTime": 1780250000 + 600 * i} for i, s in enumerate(steps)]


def task_entry(status: dict[str, object], finished: int, still_open: int) -> dict[str, object]:
    """A task of ``AgentJobInfo`` at task level (WMComponent/AnalyticsDataCollector/
    DataCollectAPI.py ``convertToRequestCouchDoc``: job counts by state from the agent's job
    database, every job counted, and WMBS/MySQL/Subscriptions/
    CountFinishedSubscriptionsByTask.py for ``subscription_status``)."""
    return {
        "status": status,
        "sites": {SITE: status},
        "jobtype": "Harvesting",
        "subscription_status": {
            "finished": finished,
            "open": still_open,
            "total": finished + still_open,
            "updated": 1780262400,
        },
    }


# Per stream, its harvest tasks as the agent counts them: a first-try success is counted here
# although it leaves no job summary.
HARVEST_TASKS: dict[str, dict[str, object]] = {
    "ALCALumiPixelsCountsExpress": {
        harvest_task("ALCALumiPixelsCountsExpress", "PromptCalibProdLumiPCC"): task_entry(
            {"success": 1}, 1, 0
        )
    },
    "Express": {
        harvest_task("Express", "PromptCalibProdSiPixelAli"): task_entry(
            {"failure": {"exception": 1}}, 1, 0
        )
    },
    "ExpressAlignment": {
        harvest_task("ExpressAlignment", "PromptCalibProdBeamSpotHP"): task_entry(
            {"submitted": {"running": 1}}, 0, 1
        )
    },
}


def request_doc(stream: str, status: str, *, run: int = RUN) -> dict[str, object]:
    name = f"Express_Run{run}_Stream{stream}"
    steps = ["new", "Closed", "Merge", "Harvesting", "Processing Done", "completed"]
    done = steps[: steps.index(status) + 1] if status in steps else ["new", status]
    tasks: dict[str, object] = {
        f"/{name}/Express": {"status": {"success": 10}, "jobtype": "Express"}
    }
    if run == RUN:
        tasks.update(HARVEST_TASKS.get(stream, {}))
    return {
        "_id": name,
        "RequestName": name,
        "Run": run,
        "RequestStatus": status,
        "RequestTransition": transitions(*done),
        "AgentJobInfo": {
            AGENT: {
                "agent_url": AGENT,
                "type": "agent_request",
                "workflow": name,
                "status": {"success": 12, "inWMBS": 12},
                "tasks": tasks,
            }
        },
    }


# requestcache: no RequestType, no Stream; a PromptReco and a Repack request are not ours.
REQUESTCACHE = {
    "result": [
        {
            f"Express_Run{RUN}_StreamExpress": request_doc("Express", "completed"),
            f"Express_Run{RUN}_StreamExpressAlignment": request_doc(
                "ExpressAlignment", "Harvesting"
            ),
            f"Express_Run{RUN}_StreamCalibration": request_doc("Calibration", "completed"),
            f"Express_Run{RUN}_StreamALCALumiPixelsCountsExpress": request_doc(
                "ALCALumiPixelsCountsExpress", "completed"
            ),
            f"Express_Run{RUN}_StreamHLTMonitor": request_doc("HLTMonitor", "completed"),
            f"Express_Run{RUN}_StreamExpressCosmics": request_doc("ExpressCosmics", "Harvesting"),
            f"Express_Run{RUN + 1}_StreamExpress": request_doc("Express", "Merge", run=RUN + 1),
            "PromptReco_Run379990_ZeroBias": {
                "RequestName": "PromptReco_Run379990_ZeroBias",
                "Run": 379990,
                "RequestStatus": "AlcaSkim",
                "RequestTransition": transitions("new", "AlcaSkim"),
            },
            "Repack_Run380000_StreamPhysics": {
                "RequestName": "Repack_Run380000_StreamPhysics",
                "Run": RUN,
                "RequestStatus": "completed",
                "RequestTransition": transitions("new", "completed"),
            },
        }
    ]
}


def job_summary(
    stream: str, task: str, state: str, exitcode: int, retrycount: int, **fields: object
) -> dict[str, object]:
    """A ChangeState.py ``jobSummary`` document as the view returns it (``include_docs``)."""
    return {
        "_id": f"{UUID}-{task.rsplit('/', 1)[-1][-24:]}",
        "_rev": "3-1f0c",
        "wmbsid": 2709786,
        "type": "jobsummary",
        "retrycount": retrycount,
        "workflow": f"Express_Run{RUN}_Stream{stream}",
        "task": task,
        "jobtype": "Harvesting",
        "state": state,
        "site": SITE,
        "cms_location": SITE,
        "exitcode": exitcode,
        "eos_log_url": None,
        "errors": {},
        "lumis": [{str(RUN): [1, 2, 3]}],
        "outputdataset": None,
        "inputfiles": [],
        "acdc_url": "https://cmsweb.cern.ch/couchdb/acdcserver",
        "agent_name": "vocms0313.cern.ch",
        "output": [],
        "timestamp": 1780262000,
        **fields,
    }


def jobdetail(stream: str, tasks: dict[str, object]) -> dict[str, object]:
    """``rows([{<request>: {<task>: {<state>: {<exit code>: {<site>: ...}}}}}])``."""
    return {"result": [{f"Express_Run{RUN}_Stream{stream}": tasks}]}


def at_site(state: str, code: int, count: int, *samples: dict[str, object]) -> dict[str, object]:
    return {state: {str(code): {SITE: {"errorCount": count, "samples": list(samples)}}}}


def condition_lfn(tag: str, suffix: str) -> str:
    return f"/store/express/tier0_harvest/2026/Run{RUN}@{tag}@{UUID}{suffix}"


LOG_LFN = (
    f"/store/unmerged/logs/prod/2026/6/1/Express_Run{RUN}_StreamExpressAlignment/"
    f"{UUID}-0-logArchive.tar.gz"
)
SIPIXELALI = harvest_task("Express", "PromptCalibProdSiPixelAli")
# A harvest that failed at CERN after its retries (AlcaHarvest.py raises 60319 on a failed copy);
# the Express processing task's own failure is no harvest.
JOBDETAIL_FAILED = jobdetail(
    "Express",
    {
        f"/Express_Run{RUN}_StreamExpress/Express": at_site(
            "jobfailed",
            8001,
            1,
            job_summary(
                "Express",
                f"/Express_Run{RUN}_StreamExpress/Express",
                "jobfailed",
                8001,
                3,
                jobtype="Express",
                errors={"cmsRun1": [{"type": "Fatal Exception", "details": "ProductNotFound"}]},
            ),
        ),
        SIPIXELALI: at_site(
            "jobfailed",
            60319,
            1,
            job_summary(
                "Express",
                SIPIXELALI,
                "jobfailed",
                60319,
                3,
                errors={
                    "cmsRun1": [
                        {
                            "type": "AlcaHarvestFailure",
                            "details": "Failure during condition copy to EOS:\n   xrdcp failed",
                            "exitCode": 60319,
                        }
                    ]
                },
            ),
        ),
    },
)
BEAMSPOT = harvest_task("ExpressAlignment", "PromptCalibProdBeamSpotHP")
# Succeeded at its second attempt: a summary with the condition files and the log tarball.
JOBDETAIL_RETRIED = jobdetail(
    "ExpressAlignment",
    {
        BEAMSPOT: at_site(
            "success",
            0,
            1,
            job_summary(
                "ExpressAlignment",
                BEAMSPOT,
                "success",
                0,
                1,
                output=[
                    {
                        "type": "output",
                        "lfn": condition_lfn("BeamSpotObjectHP_ByRun", ".db"),
                        "location": "T0_CH_CERN_Disk",
                        "checksums": {"adler32": "0a1b2c3d"},
                        "size": 24576,
                    },
                    {
                        "type": "output",
                        "lfn": condition_lfn("BeamSpotObjectHP_ByRun", ".txt"),
                        "location": "T0_CH_CERN_Disk",
                        "checksums": {},
                        "size": 812,
                    },
                    {
                        "type": "logArchive",
                        "lfn": LOG_LFN,
                        "location": "T0_CH_CERN_Disk",
                        "checksums": {},
                        "size": 90112,
                    },
                ],
            ),
        )
    },
)
ECAL = harvest_task("Calibration", "PromptCalibProdEcalPedestals")
# Succeeded after a retry without any sqlite file: the AlcaHarvest step's placeholder.
JOBDETAIL_NO_OUTPUT = jobdetail(
    "Calibration",
    {
        ECAL: at_site(
            "success",
            0,
            1,
            job_summary(
                "Calibration",
                ECAL,
                "success",
                0,
                2,
                output=[{"type": "output", "lfn": "/no/output", "location": SITE}],
            ),
        )
    },
)
# Every job of the request worked at its first try: no summary at all.
JOBDETAIL_CLEAN = {"result": [{}]}
# Only the harvest task's children left summaries: a retried LogCollect, a failed condition.
HLT = "PromptCalibProdSiPixelAliHLTHGC"
JOBDETAIL_CHILDREN_ONLY = jobdetail(
    "HLTMonitor",
    {
        log_collect_task("HLTMonitor", HLT): at_site(
            "success",
            0,
            1,
            job_summary(
                "HLTMonitor",
                log_collect_task("HLTMonitor", HLT),
                "success",
                0,
                1,
                jobtype="LogCollect",
                output=[{"type": "output", "lfn": "/store/unmerged/logs/x.tar", "location": SITE}],
            ),
        ),
        condition_task("HLTMonitor", HLT): at_site(
            "jobfailed",
            99999,
            1,
            job_summary("HLTMonitor", condition_task("HLTMonitor", HLT), "jobfailed", 99999, 0),
        ),
    },
)
JOBDETAIL_TRUNCATED = json.dumps(
    jobdetail(
        "ExpressCosmics",
        {harvest_task("ExpressCosmics", "PromptCalibProdSiStrip"): at_site("jobpaused", 8021, 1)},
    )
)[:150]

ANSWERS: dict[str, str] = {
    "requestcache": json.dumps(REQUESTCACHE),
    f"jobdetail/Express_Run{RUN}_StreamExpress": json.dumps(JOBDETAIL_FAILED),
    f"jobdetail/Express_Run{RUN}_StreamExpressAlignment": json.dumps(JOBDETAIL_RETRIED),
    f"jobdetail/Express_Run{RUN}_StreamCalibration": json.dumps(JOBDETAIL_NO_OUTPUT),
    f"jobdetail/Express_Run{RUN}_StreamALCALumiPixelsCountsExpress": json.dumps(JOBDETAIL_CLEAN),
    f"jobdetail/Express_Run{RUN}_StreamHLTMonitor": json.dumps(JOBDETAIL_CHILDREN_ONLY),
    f"jobdetail/Express_Run{RUN}_StreamExpressCosmics": JOBDETAIL_TRUNCATED,
}


async def poll(answers: dict[str, str] = ANSWERS) -> tuple[SpyReport, list[str]]:
    asked: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        path = request.url.path.removeprefix("/t0_reqmon/data/")
        asked.append(path)
        return httpx2.Response(200, text=answers[path])

    scope = PollScope(now=NOW, runs=(RunScope(RUN, True), RunScope(RUN + 1, False)))
    spy = WmStatsSpy(BASE, transport=httpx2.MockTransport(handler), clock=fixed_clock)
    async with spy:
        return await spy.poll(scope), asked


async def test_real_answers_yield_one_fact_per_harvest_task_with_job_summaries() -> None:
    report, asked = await poll()
    jobs = {(j.stream, j.producer): j for j in facts_of(report, HarvestJob)}
    assert jobs == {
        ("Express", "PromptCalibProdSiPixelAli"): HarvestJob(
            RUN,
            "Express",
            HarvestJobState.FAILED,
            detail="Failure during condition copy to EOS:\n   xrdcp failed",
            producer="PromptCalibProdSiPixelAli",
        ),
        ("ExpressAlignment", "PromptCalibProdBeamSpotHP"): HarvestJob(
            RUN,
            "ExpressAlignment",
            HarvestJobState.SUCCESS,
            outputs=(
                condition_lfn("BeamSpotObjectHP_ByRun", ".db"),
                condition_lfn("BeamSpotObjectHP_ByRun", ".txt"),
            ),
            producer="PromptCalibProdBeamSpotHP",
        ),
        ("Calibration", "PromptCalibProdEcalPedestals"): HarvestJob(
            RUN,
            "Calibration",
            HarvestJobState.SUCCESS,
            outputs=("/no/output",),
            producer="PromptCalibProdEcalPedestals",
        ),
    }
    # Only the stopped run's six Express requests are asked (not run 380001, not PromptReco).
    assert sorted(asked) == sorted(ANSWERS)


async def test_a_success_dates_from_its_summary_and_a_task_over_from_its_subscriptions() -> None:
    """Read late (after an outage), a harvest is still known to have ended when it did."""
    report, _ = await poll()
    times = {
        type(o.fact).__name__ + ":" + (getattr(o.fact, "producer", "") or ""): o.fact_time
        for o in report.observations
    }
    assert times["HarvestJob:PromptCalibProdBeamSpotHP"] == datetime.fromtimestamp(1780262000, UTC)
    assert times["HarvestTaskCounts:PromptCalibProdLumiPCC"] == datetime.fromtimestamp(
        1780262400, UTC
    )
    # Not over: no date of its own, the time it was read counts.
    assert times["HarvestTaskCounts:PromptCalibProdBeamSpotHP"] is None


async def test_a_clean_completed_request_yields_no_harvest_job() -> None:
    """No job summary is what a first-try success leaves: it proves nothing, so no fact."""
    report, _ = await poll()
    streams = {j.stream for j in facts_of(report, HarvestJob)}
    assert "ALCALumiPixelsCountsExpress" not in streams
    assert "HLTMonitor" not in streams  # LogCollect and ConditionSqlite are no harvests
    assert all(
        j.outputs != ("/no/output",)
        for j in facts_of(report, HarvestJob)
        if j.stream != "Calibration"
    )


async def test_agent_task_counts_report_first_try_successes_and_what_is_still_going() -> None:
    """The agent's counts include the first-try success the job summaries never show: the
    only positive statement that a clean harvest is over."""
    report, _ = await poll()
    tasks = {t.producer: t for t in facts_of(report, HarvestTaskCounts)}
    assert tasks == {
        "PromptCalibProdLumiPCC": HarvestTaskCounts(
            RUN, "ALCALumiPixelsCountsExpress", "PromptCalibProdLumiPCC", 1, 0, 0, 1, 0
        ),
        "PromptCalibProdSiPixelAli": HarvestTaskCounts(
            RUN, "Express", "PromptCalibProdSiPixelAli", 0, 1, 0, 1, 0
        ),
        "PromptCalibProdBeamSpotHP": HarvestTaskCounts(
            RUN, "ExpressAlignment", "PromptCalibProdBeamSpotHP", 0, 0, 1, 0, 1
        ),
    }
    assert [p for p, t in tasks.items() if t.finished_ok] == ["PromptCalibProdLumiPCC"]


async def test_unusable_task_counts_make_the_request_an_item_problem() -> None:
    cache = json.loads(json.dumps(REQUESTCACHE))
    name = f"Express_Run{RUN}_StreamALCALumiPixelsCountsExpress"
    agent = cache["result"][0][name]["AgentJobInfo"][AGENT]
    task = harvest_task("ALCALumiPixelsCountsExpress", "PromptCalibProdLumiPCC")
    agent["tasks"][task]["status"] = {"success": "many"}
    report, _ = await poll({**ANSWERS, "requestcache": json.dumps(cache)})
    problems = [p for p in facts_of(report, ItemProblem) if p.item == f"requestcache/{name}"]
    assert problems and "integer" in problems[0].message
    assert all(
        t.stream != "ALCALumiPixelsCountsExpress" for t in facts_of(report, HarvestTaskCounts)
    )


async def test_a_truncated_jobdetail_is_a_problem_of_its_run_only() -> None:
    report, _ = await poll()
    (problem,) = facts_of(report, ItemProblem)
    assert problem.run == RUN and problem.stream == "ExpressCosmics"
    assert problem.item == f"jobdetail/Express_Run{RUN}_StreamExpressCosmics"
    assert "invalid JSON" in problem.message
    assert report.ok and report.source_errors == []
    assert [e.run for e in report.errors] == [RUN]


async def test_a_garbled_requestcache_is_a_source_failure() -> None:
    answers = {**ANSWERS, "requestcache": json.dumps(REQUESTCACHE)[:300]}
    report, asked = await poll(answers)
    assert asked == ["requestcache"] and not report.ok
    assert report.observations == []


async def test_a_malformed_request_entry_is_a_problem_of_its_run() -> None:
    cache = json.loads(json.dumps(REQUESTCACHE))
    entries = cache["result"][0]
    entries[f"Express_Run{RUN}_StreamExpress"]["Run"] = RUN + 7  # contradicts its name
    entries[f"Express_Run{RUN}_StreamCalibration"] = ["not", "a", "document"]
    entries["bad name/../x"] = {"Run": RUN}
    report, asked = await poll({**ANSWERS, "requestcache": json.dumps(cache)})
    problems = {p.item: p for p in facts_of(report, ItemProblem)}
    assert set(problems) == {
        f"requestcache/Express_Run{RUN}_StreamExpress",
        f"requestcache/Express_Run{RUN}_StreamCalibration",
        f"jobdetail/Express_Run{RUN}_StreamExpressCosmics",
    }
    assert problems[f"requestcache/Express_Run{RUN}_StreamExpress"].stream == "Express"
    # The nameless entry is the answer's fault: a source-level (permanent) error.
    (source_error,) = report.source_errors
    assert "unusable request name" in source_error.message and source_error.permanent
    assert f"jobdetail/Express_Run{RUN}_StreamExpress" not in asked
    assert {j.stream for j in facts_of(report, HarvestJob)} == {"ExpressAlignment"}
