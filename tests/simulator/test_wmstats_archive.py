"""WMStats requests: the requestcache holds the active ones; a request completes only once
every job of it ran, and is archived a fixed time after that."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spyagency.simulator.scenario import HOUR, load_scenario
from spyagency.simulator.wmstats_content import (
    ARCHIVE_AFTER_COMPLETED_S,
    ARCHIVED_STATUS,
    COMPLETED_STATUS,
)
from spyagency.simulator.world import World
from tests.simulator.conftest import LiveSim

CACHE = "/t0_reqmon/data/requestcache"


def completed_at(world: World) -> dict[str, float]:
    return {
        name: next(t for status, t in steps if status == COMPLETED_STATUS)
        for name, steps in world.transitions.items()
        if any(status == COMPLETED_STATUS for status, _ in steps)
    }


def served(sim: LiveSim) -> dict[str, Any]:
    """The requestcache's documents, by request name."""
    (entries,) = sim.get(CACHE).json()["result"]
    assert isinstance(entries, dict)
    return entries


def listed(sim: LiveSim) -> set[str]:
    return set(served(sim))


def test_requests_leave_the_requestcache_a_week_after_they_completed(live: LiveSim) -> None:
    live.at_hours(72)
    done = completed_at(live.world)
    assert done and listed(live) == set(live.world.transitions)
    first, last = min(done.values()), max(done.values())
    assert last > first, "the day's requests must complete at different times"

    before = served(live)
    live.set_time(first + ARCHIVE_AFTER_COMPLETED_S - 1)
    assert served(live) == before, "nothing is archived before its week is up"
    live.set_time(first + ARCHIVE_AFTER_COMPLETED_S + 1)
    after = served(live)
    archived = {name for name, t in done.items() if t == first}
    assert archived and archived <= set(before)
    assert after == {name: doc for name, doc in before.items() if name not in archived}, (
        "archiving changes the served view: the archived requests leave it, the rest stay as"
        " they were"
    )
    still_active = set(after)
    assert {name for name, t in done.items() if t > first} <= still_active

    live.set_time(last + ARCHIVE_AFTER_COMPLETED_S + 1)
    assert listed(live) == set()
    name = next(iter(archived))
    assert live.world.transitions[name][-1][0] == ARCHIVED_STATUS
    # jobdetail keeps answering for an archived request, with the same jobs (a request whose
    # jobs all succeeded first time has no documents: {}).
    (tasks,) = live.get(f"/t0_reqmon/data/jobdetail/{name}").json()["result"]
    assert set(tasks) <= {name}


def test_a_request_completes_only_after_its_duplicate_harvest_jobs(tmp_path: Path) -> None:
    scenario = load_scenario("bad_day")
    world = World(scenario, tmp_path)
    world.advance_to(scenario.start + 72 * HOUR)
    done = completed_at(world)
    duplicated = [name for name, jobs in world.harvest_jobs.items() if len(jobs) > 1]
    assert duplicated, "bad_day must harvest some stream twice"
    for name, jobs in world.harvest_jobs.items():
        assert done[name] >= max(job.at for job in jobs), name
        statuses = [status for status, _ in world.transitions[name]]
        assert statuses.count(COMPLETED_STATUS) == 1, statuses
