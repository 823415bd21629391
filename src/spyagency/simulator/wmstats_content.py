"""WMStats (t0_reqmon) answers in the shapes dmwm/WMCore gives them: requestcache, jobdetail.

* A requestcache document carries ``RequestName``, ``Run``, ``RequestStatus``,
  ``RequestTransition`` and, once an agent reported on the request, ``AgentJobInfo``; never a
  request type or a stream (the Tier-0 writes only name and run, WMCore adds the status
  history).
* ``AgentJobInfo`` is keyed by agent URL and summarised per task, as the Tier-0 agent writes it
  (WMCore AnalyticsDataCollector ``DataCollectAPI.convertToRequestCouchDoc`` with
  ``summaryLevel = "task"``; subscriptions from WMBS ``CountFinishedSubscriptionsByTask``). Each
  producer's AlcaHarvest task has ``jobtype`` "Harvesting" and a ``subscription_status``
  (finished / open / total, ``updated``); once its job ended, ``status`` counts the job states
  from the agent's job database, every job counted (first-try successes included, unlike the
  job summaries below; a duplicate job counts too), and ``sites`` the same under the site. The
  request-level ``status`` and ``sites`` are the sums over tasks. The simulator's notion of
  "the agent reports the request" is the run's stop (the ``Closed`` transition): from then on
  every planned producer has a task entry, with only ``jobtype`` and an open subscription
  until its job ended. The subscription finishes when the producer's last planned job (its
  duplicates included, ``harvest.extra_outputs``) ended, except after a failed job: the
  Tier-0 pauses it, so the subscription stays open (and ``run_stream_done`` never turns
  true, see ``world_events.stream_done_at``). A stream without Express data has no planned
  harvest: its producers' tasks never get a job, and their subscriptions finish, empty, when
  the request completes. LogCollect tasks are left out.
* jobdetail nests task path -> job state -> exit code -> site -> {errorCount, samples}. Each
  PromptCalibProd producer has its own AlcaHarvest task below the stream's alca skim task
  (WMCore Express.py), with a LogCollect child.
* A job summary exists only for a job that failed, or that succeeded after a retry (WMCore
  ChangeState.py). Which successful jobs needed a retry is drawn from a hash of the job's uuid
  and task, so it is stable, needs no random draw (the plan stays as it was) and is the same
  for every reader. A request without summaries answers ``{"result": [{}]}``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spyagency.simulator.catalogue import load_catalogue
from spyagency.simulator.plan import RunPlan, StreamPlan
from spyagency.simulator.records import HarvestJobRecord

HARVEST_FAILURE_EXIT = 8001
# The requestcache holds the active requests only: the Tier-0 archives a request (status
# ``normal-archived``) this long after it completed, and it then leaves the requestcache
# (``jobdetail`` still answers for it). Without this the cache would list every request since
# the start of the year and grow with history.
COMPLETED_STATUS = "completed"
ARCHIVED_STATUS = "normal-archived"
ARCHIVE_AFTER_COMPLETED_S = 7 * 24 * 3600.0
NO_OUTPUT_LFN = "/no/output"  # the AlcaHarvest step's placeholder when it wrote no sqlite
# The request status the Tier-0 sets when the run stopped (its input is closed).
CLOSED_STATUS = "Closed"
SITE = "T0_CH_CERN"
# The reporting agent: an invented Tier-0 agent (the real names come from its configuration).
AGENT_URL = "vocms0313.cern.ch:9999"
AGENT_NAME = "WMAgent"
AGENT_TEAM = "tier0production"
AGENT_VERSION = "2.3.9"
HARVEST_JOBTYPE = "Harvesting"
# Share of successful jobs that needed a retry (and so leave a job summary).
RETRIED_SHARE = 0.375
# Attempts a failed harvest job made before it was given up.
FAILED_RETRIES = 3
# jobdetail shows this many sample documents per (task, state, exit code, site) by default.
DEFAULT_SAMPLE_SIZE = 1
_EXPRESS_NAME = re.compile(r"^Express_Run(?P<run>[0-9]+)_Stream(?P<stream>\w+)$")


def in_request_cache(transitions: list[tuple[str, float]]) -> bool:
    """Whether a request with these transitions is still listed by ``requestcache``."""
    return bool(transitions) and transitions[-1][0] != ARCHIVED_STATUS


def request_entry(
    name: str,
    run: int,
    transitions: list[tuple[str, float]],
    stream: StreamPlan | None,
    jobs: list[HarvestJobRecord],
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "RequestName": name,
        "Run": run,
        "RequestStatus": transitions[-1][0],
        "RequestTransition": [{"Status": s, "UpdateTime": int(t)} for s, t in transitions],
    }
    report = agent_report(name, transitions, stream, jobs)
    if report is not None:
        entry["AgentJobInfo"] = {AGENT_URL: report}
    return entry


def agent_report(
    name: str,
    transitions: list[tuple[str, float]],
    stream: StreamPlan | None,
    jobs: list[HarvestJobRecord],
) -> dict[str, Any] | None:
    """The agent's ``agent_request`` document for the request, None while it reported nothing
    (the run still going, or no harvest planned for the stream)."""
    closed = next((t for status, t in transitions if status == CLOSED_STATUS), None)
    if stream is None or closed is None:
        return None
    tasks: dict[str, Any] = {}
    status: dict[str, Any] = {}
    at_site: dict[str, Any] = {}
    if stream.harvest is None:
        # No express data: no file ever reaches the harvest, so no harvest job is made; each
        # harvest subscription finishes, empty, when the request completes.
        completed = next((t for s, t in transitions if s == COMPLETED_STATUS), None)
        for producer in load_catalogue().streams[stream.stream].pcl_producers:
            tasks[harvest_task(name, stream.stream, producer)] = _empty_task(closed, completed)
        if not tasks:
            return None
    ended = producer_jobs(stream, jobs)
    for producer, planned in planned_jobs(stream).items():
        done = [job for job in ended if job.producer == producer]
        task = _task_entry(done, planned, closed)
        tasks[harvest_task(name, stream.stream, producer)] = task
        _add_states(status, task.get("status", {}))
        _add_states(at_site, task.get("sites", {}).get(SITE, {}))
    updated = max(task["subscription_status"]["updated"] for task in tasks.values())
    return {
        "agent_url": AGENT_URL,
        "agent": AGENT_NAME,
        "agent_team": AGENT_TEAM,
        "agent_version": AGENT_VERSION,
        "type": "agent_request",
        "workflow": name,
        "timestamp": updated,
        "skipped": False,
        "status": status,
        "sites": {SITE: at_site} if at_site else {},
        "tasks": tasks,
    }


def planned_jobs(stream: StreamPlan) -> dict[str, int]:
    """How many harvest jobs each producer of the stream runs, in catalogue order: one for
    the planned harvest, one more per duplicate of one of its outputs."""
    harvest = stream.harvest
    if harvest is None:
        return {}
    counts = dict.fromkeys((wf.workflow.producer for wf in harvest.workflows), 1)
    producer_of = {wf.workflow.name: wf.workflow.producer for wf in harvest.workflows}
    for out in harvest.extra_outputs:
        counts[producer_of[out.workflow]] += 1
    return counts


def _task_entry(done: list[ProducerJob], planned: int, closed: float) -> dict[str, Any]:
    task: dict[str, Any] = {"jobtype": HARVEST_JOBTYPE}
    if done:
        failed = sum(job.failed for job in done)
        states: dict[str, Any] = {}
        if len(done) > failed:
            states["success"] = len(done) - failed
        if failed:
            states["failure"] = {"exception": failed}
        task["status"] = states
        task["sites"] = {SITE: dict(states)}
    # A failed job is paused by the Tier-0 and holds its subscription open.
    finished = len(done) >= planned and not any(job.failed for job in done)
    updated = max((job.ended_at for job in done), default=closed)
    task["subscription_status"] = {
        "finished": int(finished),
        "open": int(not finished),
        "total": 1,
        "updated": int(updated),
    }
    return task


def _empty_task(closed: float, completed: float | None) -> dict[str, Any]:
    """A harvest task that never gets a job: its subscription open until the request
    completes, then finished."""
    finished = completed is not None
    return {
        "jobtype": HARVEST_JOBTYPE,
        "subscription_status": {
            "finished": int(finished),
            "open": int(not finished),
            "total": 1,
            "updated": int(completed if completed is not None else closed),
        },
    }


def _add_states(total: dict[str, Any], states: Mapping[str, Any]) -> None:
    """Sum job-state counts, nested ones (``failure``: {"exception": n}) key by key."""
    for key, value in states.items():
        if isinstance(value, Mapping):
            _add_states(total.setdefault(key, {}), value)
        else:
            total[key] = total.get(key, 0) + value


def stream_plan(runs: Mapping[int, RunPlan], name: str) -> StreamPlan | None:
    """The planned stream behind an Express request name."""
    named = _EXPRESS_NAME.fullmatch(name)
    plan = runs.get(int(named["run"])) if named else None
    if plan is None or named is None:
        return None
    return next((s for s in plan.streams if s.stream == named["stream"]), None)


@dataclass(frozen=True)
class ProducerJob:
    """One job of one producer's AlcaHarvest task."""

    producer: str
    uuid: str
    failed: bool
    lfns: tuple[str, ...]
    ended_at: float


def producer_jobs(stream: StreamPlan, jobs: list[HarvestJobRecord]) -> list[ProducerJob]:
    """The stream's harvest jobs per producer. The planned harvest job stands for one job per
    producer (sharing its uuid); a duplicate job belongs to its output's producer."""
    harvest = stream.harvest
    if harvest is None:
        return []
    producer_of = {wf.workflow.name: wf.workflow.producer for wf in harvest.workflows}
    duplicates = {out.uuid: out for out in harvest.extra_outputs}
    found: list[ProducerJob] = []
    for job in jobs:
        duplicate = duplicates.get(job.uuid)
        if duplicate is not None:
            producer = producer_of.get(duplicate.workflow, "")
            lfns = tuple(job.output_lfns)
            found.append(ProducerJob(producer, job.uuid, job.failed, lfns, job.at))
            continue
        stems: dict[str, list[str]] = {}
        for wf in harvest.workflows:
            mine = stems.setdefault(wf.workflow.producer, [])
            mine += [f"/{out.file_stem}." for out in wf.outputs]
        for producer, marks in stems.items():
            lfns = tuple(lfn for lfn in job.output_lfns if any(m in lfn for m in marks))
            # The AlcaHarvest step names a placeholder when it wrote no sqlite file.
            lfns = lfns or (NO_OUTPUT_LFN,)
            found.append(ProducerJob(producer, job.uuid, job.failed, lfns, job.at))
    return found


def retried(uuid: str, task: str) -> bool:
    digest = hashlib.sha256(f"{uuid}/{task}".encode()).digest()
    return int.from_bytes(digest[:4], "big") < RETRIED_SHARE * 2**32


def _skim_task(stream: str) -> str:
    # Express.py: the alca skim task is "<express task>AlcaSkim<output module>", the express
    # ALCARECO output module "write_<primary dataset>_ALCARECO", the dataset "Stream<S>".
    return f"ExpressAlcaSkimwrite_Stream{stream}_ALCARECO"


def harvest_task(name: str, stream: str, producer: str) -> str:
    skim = _skim_task(stream)
    return f"/{name}/Express/{skim}/{skim}AlcaHarvestALCARECOStream{producer}"


def log_collect_task(name: str, stream: str, producer: str) -> str:
    skim = _skim_task(stream)
    # Named "<skim><output module>AlcaHarvestLogCollect", not after the harvest task itself.
    child = f"{skim}ALCARECOStream{producer}AlcaHarvestLogCollect"
    return f"{harvest_task(name, stream, producer)}/{child}"


def _summary(name: str, task: str, job: ProducerJob, state: str, exit_code: int) -> dict[str, Any]:
    log = f"/store/unmerged/logs/prod/{name}/{job.uuid}-{job.producer}-logArchive.tar.gz"
    doc: dict[str, Any] = {
        "_id": f"{job.uuid}-{job.producer}",
        "type": "jobsummary",
        "workflow": name,
        "task": task,
        "state": state,
        "site": SITE,
        "exitcode": exit_code,
        "retrycount": FAILED_RETRIES if state != "success" else 1,
        "timestamp": int(job.ended_at),
        "errors": {},
        "output": [],
    }
    if state == "success":
        doc["output"] = [{"type": "output", "lfn": lfn, "location": SITE} for lfn in job.lfns]
        doc["output"].append({"type": "logArchive", "lfn": log, "location": SITE})
    else:
        doc["errors"] = {
            "cmsRun1": [
                {
                    "type": "Fatal Exception",
                    "details": "An exception of category 'FileReadError' occurred while "
                    "harvesting ALCAPROMPT",
                    "exitCode": exit_code,
                }
            ]
        }
    return doc


def _add(
    tasks: dict[str, Any], task: str, state: str, code: int, doc: dict[str, Any], samples: int
) -> None:
    site = tasks.setdefault(task, {}).setdefault(state, {}).setdefault(str(code), {})
    bucket = site.setdefault(SITE, {"errorCount": 0, "samples": []})
    bucket["errorCount"] += 1
    if len(bucket["samples"]) < samples:
        bucket["samples"].append(doc)


def job_detail(
    name: str,
    stream: StreamPlan | None,
    jobs: list[HarvestJobRecord],
    sample_size: int = DEFAULT_SAMPLE_SIZE,
) -> dict[str, Any]:
    """The ``result`` row of ``jobdetail/<name>``: {} when no job left a summary."""
    if stream is None:
        return {}
    tasks: dict[str, Any] = {}
    for job in producer_jobs(stream, jobs):
        task = harvest_task(name, stream.stream, job.producer)
        if job.failed:
            doc = _summary(name, task, job, "jobfailed", HARVEST_FAILURE_EXIT)
            _add(tasks, task, "jobfailed", HARVEST_FAILURE_EXIT, doc, sample_size)
            continue
        if retried(job.uuid, task):
            _add(tasks, task, "success", 0, _summary(name, task, job, "success", 0), sample_size)
        log_task = log_collect_task(name, stream.stream, job.producer)
        if retried(job.uuid, log_task):
            log_job = ProducerJob(job.producer, job.uuid, False, (), job.ended_at)
            doc = _summary(name, log_task, log_job, "success", 0)
            _add(tasks, log_task, "success", 0, doc, sample_size)
    return {name: tasks} if tasks else {}
