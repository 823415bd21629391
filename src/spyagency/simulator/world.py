"""The simulated CMS world: the plan materialised event by event, in time order.

``advance_to(t)`` processes every planned event and every Tier-0 decision whose time has come,
one at a time, so that dynamic rules (lock-in order, FCSR at upload time) see exactly the state
that a real Tier-0 would have seen. All methods are thread-safe (one re-entrant lock): the HTTP
handlers, the clock-advancing thread and the readiness poller share one World.
"""

from __future__ import annotations

import heapq
import itertools
import random
import shutil
import threading
from pathlib import Path
from typing import Any

from spyagency.simulator.catalogue import load_catalogue
from spyagency.simulator.condb import CondDb
from spyagency.simulator.fault_state import FaultState
from spyagency.simulator.harvest_files import year_dir
from spyagency.simulator.plan import OutputPlan, RunPlan
from spyagency.simulator.planner import plan_world
from spyagency.simulator.records import (
    FileRecord,
    HarvestJobRecord,
    InjectedFault,
    IovRecord,
)
from spyagency.simulator.scenario import HOUR, Scenario
from spyagency.simulator.tier0_release import Tier0Releaser
from spyagency.simulator.timefmt import iso_micro
from spyagency.simulator.world_events import EventHandlers, stream_done_at

RECO_DONE_SALT = 0x4EC0

# The OMS run attributes that grow by themselves while a run goes on (``http_oms.attributes``);
# every other attribute is fixed at run start, except ``end_time`` (set by the run's end).
OMS_COUNTERS = frozenset({"duration", "recorded_lumi", "last_lumisection_number"})


class World(EventHandlers):
    def __init__(self, scenario: Scenario, root_dir: Path | str) -> None:
        self.scenario = scenario
        self.root = Path(root_dir)
        self.harvest_dir = self.root / "harvest"
        # A world starts from nothing: files of an earlier world in the same root would lie.
        shutil.rmtree(self.harvest_dir, ignore_errors=True)
        self.harvest_dir.mkdir(parents=True, exist_ok=True)
        # The year's folder exists from the start: production's already holds the harvests
        # of the year's earlier runs (a new year's folder appears with its first harvest).
        year_dir(self.harvest_dir, scenario.start).mkdir(exist_ok=True)
        self.condb = CondDb(self.root / "conddb.sqlite")
        for stale in (self.condb.path, self.condb.path.with_name("conddb.sqlite.hidden")):
            stale.unlink(missing_ok=True)
        self.catalogue = load_catalogue()
        self.condb.initialise(
            scenario.tier0.prompt_global_tag,
            scenario.tier0.cmssw,
            self.catalogue.destination_tags(),
            scenario.start,
        )
        self.plan: list[RunPlan] = plan_world(scenario)
        self.runs: dict[int, RunPlan] = {r.number: r for r in self.plan}
        self.now = scenario.start
        self._guard = threading.RLock()
        self._events: list[tuple[float, int, str, Any]] = []
        self._seq = itertools.count()
        self.releaser = Tier0Releaser(
            scenario.tier0.reco_delay_s,
            scenario.tier0.reco_delay_offset_s,
            scenario.readiness.consume,
        )
        self.faults = FaultState(scenario.faults, scenario.seed, scenario.start)
        # Materialised state, read by the services and by the ground truth.
        self.started: list[int] = []
        self.ended: set[int] = set()
        self.stream_done: set[tuple[int, str]] = set()
        self.transitions: dict[str, list[tuple[str, float]]] = {}
        self.harvest_jobs: dict[str, list[HarvestJobRecord]] = {}
        self.harvested_streams: set[tuple[int, str]] = set()
        self.files: dict[str, FileRecord] = {}
        self.upload_logs: dict[str, Any] = {}
        self.hidden_logs: dict[str, float] = {}
        self.iovs: list[IovRecord] = []
        self.provable_at: dict[tuple[int, str], float] = {}
        self.reco_done: set[int] = set()
        self.readiness_keys: dict[str, dict[str, Any]] = {}
        reco_rng = random.Random(scenario.seed ^ RECO_DONE_SALT)
        self._reco_hours = {
            r.number: scenario.timing.reco_done_after_release_hours.sample(reco_rng)
            for r in self.plan
        }
        self._schedule_plan()

    # --- scheduling ----------------------------------------------------------------------

    def schedule(self, at: float, kind: str, item: Any) -> None:
        heapq.heappush(self._events, (at, next(self._seq), kind, item))

    def _schedule_plan(self) -> None:
        for run in self.plan:
            self.schedule(run.start, "run_start", run.number)
            self.schedule(run.stop, "run_end", run.number)
            for stream in run.streams:
                self.schedule(stream.express_done_at, "express_done", stream)
                done_at = stream_done_at(stream)
                if done_at is not None:  # a failed harvest pauses: the stream never finishes
                    self.schedule(done_at, "stream_done", stream)
                if stream.harvest is not None:
                    self.schedule(stream.harvest.at, "harvest", stream)
                    for extra in stream.harvest.extra_outputs:
                        self.schedule(extra.created_at, "harvest_duplicate", extra)
            for out in run.all_outputs():
                self.schedule(out.upload_at, "upload_attempt", out)
            self.schedule_read_faults(run)
        for window in self.faults.windows:
            self.schedule_window(window.kind, window.start, window.end, window.service)

    def schedule_window(self, kind: str, start: float, end: float, service: str | None) -> None:
        if kind in ("condb_locked", "condb_unreadable"):
            self.schedule(start, "window_start", kind)
            self.schedule(end, "window_end", kind)
        detail = f"window until {iso_micro(end)}"
        self.faults.note(InjectedFault(f"window:{kind}", start, service=service, detail=detail))

    # --- time ----------------------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        return self._guard

    def promptreco_enabled(self, t: float) -> bool:
        return not self.faults.active_windows(t, "promptreco_off")

    def _next_tier0_moment(self) -> float | None:
        timer = self.releaser.next_timer()
        if timer is None:
            return None
        moment = max(timer, self.now)
        end = self.faults.window_end(moment, "promptreco_off")
        return moment if end is None else end

    def _tier0_step(self) -> None:
        if not self.promptreco_enabled(self.now):
            return
        for action, run in self.releaser.step(self.now):
            if action == "release":
                self.schedule(self.now + self._reco_hours[run] * HOUR, "reco_done", run)

    def due_by(self, t: float) -> bool:
        """Whether ``advance_to(t)`` would change anything (time itself included)."""
        with self._guard:
            if t > self.now:
                return True
            tier0 = self._next_tier0_moment()
            return bool(self._events and self._events[0][0] <= t) or (
                tier0 is not None and tier0 <= t
            )

    def advance_to(self, t: float) -> None:
        """Materialise everything up to simulated time t (time never goes backwards)."""
        with self._guard:
            while True:
                event_time = self._events[0][0] if self._events else None
                tier0_time = self._next_tier0_moment()
                if (
                    tier0_time is not None
                    and tier0_time <= t
                    and (event_time is None or tier0_time < event_time)
                ):
                    self.now = max(self.now, tier0_time)
                    self._tier0_step()
                    continue
                if event_time is None or event_time > t:
                    break
                at, _, kind, item = heapq.heappop(self._events)
                self.now = max(self.now, at)
                self.handle(kind, item)
                self._tier0_step()
            self.now = max(self.now, t)
            self._tier0_step()

    # --- readiness -----------------------------------------------------------------------

    def receive_ready(self, run: int, key: str, via: str) -> dict[str, Any]:
        """An agency readiness signal reached the Tier-0 (webhook or poll); idempotent by key."""
        with self._guard:
            if key in self.readiness_keys:
                return {**self.readiness_keys[key], "duplicate": True}
            action = self.releaser.record_ready(run, self.now, key, via)
            self._tier0_step()
            record = self.releaser.records.get(run)
            result: dict[str, Any] = {
                "run": run,
                "action": action,
                "released_early": bool(record and record.early),
                "duplicate": False,
            }
            self.readiness_keys[key] = result
            return result

    def fcsr(self) -> int:
        with self._guard:
            return self.releaser.fcsr(self.scenario.first_run)

    def file_record(self, out: OutputPlan) -> FileRecord | None:
        return self.files.get(out.key)
