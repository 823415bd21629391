"""WMStats ``AgentJobInfo``: the Tier-0 agent's per-task summary of an Express request (WMCore
AnalyticsDataCollector with ``summaryLevel = "task"``), from the run's stop to its last job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spyagency.simulator.plan import StreamPlan
from spyagency.simulator.scenario import HOUR, load_scenario
from spyagency.simulator.wmstats_content import (
    AGENT_URL,
    NO_OUTPUT_LFN,
    SITE,
    harvest_task,
    planned_jobs,
    producer_jobs,
    request_entry,
)
from spyagency.simulator.world import World
from tests.simulator.conftest import LiveSim

CACHE = "/t0_reqmon/data/requestcache"


def cached(sim: LiveSim, name: str) -> dict[str, Any]:
    (entries,) = sim.get(CACHE).json()["result"]
    entry: dict[str, Any] = entries[name]
    return entry


def producers_without_output(stream: StreamPlan) -> set[str]:
    assert stream.harvest is not None
    producers = {wf.workflow.producer for wf in stream.harvest.workflows}
    return producers - {wf.workflow.producer for wf in stream.harvest.workflows if wf.outputs}


def test_requestcache_has_one_finished_task_per_producer_once_harvested(live: LiveSim) -> None:
    # The first Express harvest of the day in which some producer wrote nothing.
    stream = next(
        s
        for run in live.world.plan
        for s in run.streams
        if s.stream == "Express"
        and s.harvest is not None
        and not s.harvest.failed
        and not s.harvest.extra_outputs
        and producers_without_output(s)
    )
    assert stream.harvest is not None
    run = live.world.runs[stream.run]
    name = stream.request_name
    producers = list(dict.fromkeys(wf.workflow.producer for wf in stream.harvest.workflows))
    tasks = {harvest_task(name, stream.stream, p): p for p in producers}

    # While the run goes on, no agent has reported on the request.
    live.set_time(run.start + 60)
    assert "AgentJobInfo" not in cached(live, name)

    # Stopped, not harvested: every producer's task is known, its subscription open, no jobs.
    live.set_time(run.stop + 1)
    (agent,) = cached(live, name)["AgentJobInfo"].values()
    assert agent["agent_url"] == AGENT_URL and agent["workflow"] == name
    assert agent["type"] == "agent_request" and agent["skipped"] is False
    assert agent["status"] == {} and agent["sites"] == {}
    assert set(agent["tasks"]) == set(tasks)
    for task in agent["tasks"].values():
        assert set(task) == {"jobtype", "subscription_status"}
        assert task["jobtype"] == "Harvesting"
        assert task["subscription_status"] == {
            "finished": 0,
            "open": 1,
            "total": 1,
            "updated": int(run.stop),
        }

    # Harvested: one task per producer, each with its (first-try) success counted and a
    # finished subscription, the producers whose harvest wrote nothing included.
    live.set_time(stream.harvest.at + 1)
    entry = cached(live, name)
    (agent,) = entry["AgentJobInfo"].values()
    assert set(agent["tasks"]) == set(tasks)
    for task in agent["tasks"].values():
        assert task["jobtype"] == "Harvesting"
        assert task["status"] == {"success": 1}
        assert task["sites"] == {SITE: {"success": 1}}
        assert task["subscription_status"] == {
            "finished": 1,
            "open": 0,
            "total": 1,
            "updated": int(stream.harvest.at),
        }
    assert agent["status"] == {"success": len(producers)}
    assert agent["sites"] == {SITE: {"success": len(producers)}}
    assert agent["timestamp"] == int(stream.harvest.at)
    empty = producers_without_output(stream)
    jobs = producer_jobs(stream, live.world.harvest_jobs[name])
    assert {job.producer for job in jobs if job.lfns == (NO_OUTPUT_LFN,)} == empty
    assert {tasks[task] for task in agent["tasks"]} >= empty


def test_duplicate_jobs_hold_the_subscription_open_and_failures_count(tmp_path: Path) -> None:
    scenario = load_scenario("bad_day")
    world = World(scenario, tmp_path)
    duplicated = next(
        s
        for run in world.plan
        for s in run.streams
        if s.harvest is not None and s.harvest.extra_outputs
    )
    assert duplicated.harvest is not None
    producer_of = {wf.workflow.name: wf.workflow.producer for wf in duplicated.harvest.workflows}
    extras = duplicated.harvest.extra_outputs
    producer = producer_of[extras[0].workflow]
    planned = planned_jobs(duplicated)
    assert planned[producer] >= 2
    task = harvest_task(duplicated.request_name, duplicated.stream, producer)

    def agent_of(stream: StreamPlan) -> dict[str, Any]:
        entry = request_entry(
            stream.request_name,
            stream.run,
            world.transitions[stream.request_name],
            stream,
            world.harvest_jobs.get(stream.request_name, []),
        )
        report: dict[str, Any] = entry["AgentJobInfo"][AGENT_URL]
        return report

    world.advance_to(duplicated.harvest.at + 1)
    first = agent_of(duplicated)["tasks"][task]
    assert first["status"] == {"success": 1}
    assert first["subscription_status"]["open"] == 1, "a duplicate job is still to come"
    world.advance_to(max(o.created_at for o in extras) + 1)
    after = agent_of(duplicated)
    done = after["tasks"][task]
    assert done["status"] == {"success": planned[producer]}
    assert done["subscription_status"]["finished"] == 1
    assert after["status"]["success"] == sum(planned.values())

    world.advance_to(scenario.start + 72 * HOUR)
    failed = next(
        s for run in world.plan for s in run.streams if s.harvest is not None and s.harvest.failed
    )
    report = agent_of(failed)
    assert report["tasks"], "a failed harvest reports its tasks"
    for entry in report["tasks"].values():
        assert entry["status"] == {"failure": {"exception": 1}}
        # The Tier-0 pauses a failed job: its subscription stays open.
        assert entry["subscription_status"]["finished"] == 0
    assert report["status"] == {"failure": {"exception": len(report["tasks"])}}
