"""Plans the read faults: for a few hours, the agency reads something wrong about one item,
though nothing wrong happened to it (``faultkinds.ITEM_READ_FAULTS``).

* ``corrupt_harvest_file`` (per output, ``item`` its key): from the moment the harvest writes
  it, the output's ``.db`` in the harvest area is garbage (not sqlite), and with variant
  ``db+txt`` its ``.txt`` is cut in half too; at the window's end the real files are written
  back. Both writes are atomic (write aside, rename) and keep the file's mtime at its
  creation, so the harvest's moment stays true; the size changes each time, which is how a
  reader that remembers (mtime, size) sees the file change. The Tier-0 uploads its own
  copy, so the upload, its log's hash and the CondDB are as planned.
* ``truncated_item`` (per run, ``item`` empty): from the run's first harvest (its first
  express completion when it has no harvest), every DQM GUI answer about the run
  (``data/json`` and ``jsonfairy``) and WMStats ``jobdetail`` of the run's requests is cut
  to its first half (HTTP 200, broken JSON).
* ``missing_folder`` (per run, ``item`` one harvested workflow of it): from that harvest on,
  the DQM GUI answers for the workflow's folder as it answers for any folder it does not
  have: ``{"contents": []}`` for the folder (and no subfolder leading to it), the export's
  error text from ``jsonfairy``.
* ``late_item`` (per output, ``item`` its key): variant ``log``: the upload service answers
  ``getFileLog`` for the upload's hash with 500, as it does for a hash it does not know,
  from the upload attempt for the window; variant ``iov``: the upload's log says the export
  is done as planned, but its IOVs reach the CondDB only when the window (starting at the
  upload's end) is over; ``log+iov`` both. A late IOV *is* a later insertion: the truth's
  ``provable_at`` is the moment the IOV really became visible in the CondDB, with that
  ``INSERTION_TIME``, so for this variant the truth moves with it (nothing in the CondDB
  ever claims an earlier insertion than a reader could have seen). The upload's verdict
  (FCSR rule) is decided when its log says so, at the planned time.

Windows last 1 to 6 simulated hours. Rates (``item_rates``) are per output for the
per-output kinds, per run for the per-run ones; ``ensure_items`` forces a kind at least once
when the world has an item for it. Each kind draws from its own random stream, salted apart
from every other stream of the world: neither the world nor the other faults move when one
read fault's rate changes.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence

from spyagency.simulator.faultkinds import ITEM_READ_FAULTS
from spyagency.simulator.plan import OutputPlan, ReadFault, RunPlan
from spyagency.simulator.scenario import HOUR, Scenario

READ_FAULT_SALT = 0x4EAD_FA17
WINDOW_HOURS = (1.0, 6.0)
CORRUPT_VARIANTS = ("db", "db+txt")
LATE_VARIANTS = ("log", "iov", "log+iov")
# A forced late item hides both its log and its IOVs: the log part always happens (an
# upload that errors or is refused has no IOV to delay), so the fault is surely recorded.
ENSURED_LATE_VARIANT = "log+iov"

_Draw = Callable[[random.Random, bool], ReadFault]


def _window(rng: random.Random) -> float:
    return rng.uniform(*WINDOW_HOURS) * HOUR


def _corrupt(out: OutputPlan) -> _Draw:
    def draw(rng: random.Random, forced: bool) -> ReadFault:
        del forced
        return ReadFault(
            "corrupt_harvest_file",
            out.run,
            out.key,
            out.created_at,
            _window(rng),
            rng.choice(CORRUPT_VARIANTS),
        )

    return draw


def _late(out: OutputPlan) -> _Draw:
    def draw(rng: random.Random, forced: bool) -> ReadFault:
        duration = _window(rng)
        variant = rng.choice(LATE_VARIANTS)
        return ReadFault(
            "late_item",
            out.run,
            out.key,
            out.upload_at,
            duration,
            ENSURED_LATE_VARIANT if forced else variant,
        )

    return draw


def _first_harvest(run: RunPlan) -> float:
    """When the run's first harvest ends (its first express completion without harvest)."""
    harvests = [s.harvest.at for s in run.streams if s.harvest is not None]
    return min(harvests or [s.express_done_at for s in run.streams])


def _truncated(run: RunPlan) -> _Draw:
    def draw(rng: random.Random, forced: bool) -> ReadFault:
        del forced
        return ReadFault("truncated_item", run.number, "", _first_harvest(run), _window(rng))

    return draw


def _harvested_workflows(run: RunPlan) -> dict[str, float]:
    """Workflow name -> its first harvest (that did not fail) in the run."""
    found: dict[str, float] = {}
    for stream in run.streams:
        harvest = stream.harvest
        if harvest is None or harvest.failed:
            continue
        for wf in harvest.workflows:
            name = wf.workflow.name
            found[name] = min(found.get(name, harvest.at), harvest.at)
    return found


def _missing(run: RunPlan) -> _Draw:
    def draw(rng: random.Random, forced: bool) -> ReadFault:
        del forced
        workflows = _harvested_workflows(run)
        name = rng.choice(sorted(workflows))
        return ReadFault("missing_folder", run.number, name, workflows[name], _window(rng))

    return draw


def _candidates(kind: str, runs: Sequence[RunPlan]) -> list[tuple[int, _Draw]]:
    """(run, how to draw the fault) for every item ``kind`` can hit, in plan order."""
    if kind == "corrupt_harvest_file":
        return [(run.number, _corrupt(out)) for run in runs for out in run.all_outputs()]
    if kind == "late_item":
        # An upload that never happens has no log or IOV to be late.
        return [
            (run.number, _late(out))
            for run in runs
            for out in run.all_outputs()
            if "uploaded_never_in_db" not in out.faults
        ]
    if kind == "truncated_item":
        return [(run.number, _truncated(run)) for run in runs if run.streams]
    if kind == "missing_folder":
        return [(run.number, _missing(run)) for run in runs if _harvested_workflows(run)]
    raise ValueError(f"not a read fault: {kind!r}")


def _plan_kind(scenario: Scenario, kind: str, runs: Sequence[RunPlan]) -> list[ReadFault]:
    rng = random.Random(f"{scenario.seed ^ READ_FAULT_SALT}:{kind}")
    rate = scenario.faults.item_rates.get(kind, 0.0)
    candidates = _candidates(kind, runs)
    chosen: list[ReadFault] = []
    for _, draw in candidates:
        # The same draws per candidate whatever the rate (its window from a stream of its
        # own): with one seed, a higher rate hits the same items and more, never others.
        hit, own = rng.random(), random.Random(rng.getrandbits(64))
        if hit < rate:
            chosen.append(draw(own, False))
    if kind in scenario.faults.ensure_items and not chosen and candidates:
        _, draw = rng.choice(candidates)
        chosen.append(draw(random.Random(rng.getrandbits(64)), True))
    return chosen


def plan_read_faults(scenario: Scenario, runs: list[RunPlan]) -> list[RunPlan]:
    """``runs`` with their read faults (``RunPlan.read_faults``, by start)."""
    by_run: dict[int, list[ReadFault]] = {}
    for kind in ITEM_READ_FAULTS:
        for fault in _plan_kind(scenario, kind, runs):
            by_run.setdefault(fault.run, []).append(fault)
    if not by_run:
        return runs
    return [
        dataclasses.replace(
            run,
            read_faults=tuple(sorted(by_run[run.number], key=lambda f: (f.start, f.kind))),
        )
        if run.number in by_run
        else run
        for run in runs
    ]
