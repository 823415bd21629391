"""Ground truth: what really happened, for tests and benchmarks of the agency.

Per run: stop, lock-in and release times, early or by timer, and for every calibration PromptReco
needed (a workflow that produced or should have produced a payload) the moment it became
provable in the CondDB (IOV insertion with the harvested payload in every destination tag of
the output, the last tag deciding) and whether that was before lock-in. ``missed`` lists
required calibrations absent at lock-in.

``provable_at`` is the oracle of a run: the moment everything PromptReco needs became provable.
For a run with required calibrations, the last of their ``provable_at``; for a run whose
harvests produced nothing required (no payload, vetoed), its last harvest; for a run without
Express data, the moment its last stream was done (the Tier-0 then shows the request completed
without a harvest job: the evidence of nothing). None while that moment has not come.
"""

from __future__ import annotations

from typing import Any, Protocol

from spyagency.simulator.catalogue import PclOutput
from spyagency.simulator.plan import RunPlan, StreamPlan, WorkflowPlan
from spyagency.simulator.records import FileRecord, InjectedFault
from spyagency.simulator.tier0_release import ReleaseRecord


class TruthSource(Protocol):
    now: float
    started: list[int]
    runs: dict[int, RunPlan]
    files: dict[str, FileRecord]
    provable_at: dict[tuple[int, str], float]

    def fcsr(self) -> int: ...


def output_provable_at(world: TruthSource, run: int, spec: PclOutput) -> float | None:
    """When the output's calibration of ``run`` became provable: the run is covered only once
    every destination tag holds the harvested payload, so the last tag to get it decides
    (None while any tag still lacks it)."""
    times = [world.provable_at.get((run, tag)) for tag in spec.destination_tags]
    known = [t for t in times if t is not None]
    return max(known) if len(known) == len(times) else None


def _required(run: RunPlan, world: TruthSource, lock_time: float | None) -> list[dict[str, Any]]:
    rows = []
    for stream in run.streams:
        if stream.harvest is None:
            continue
        for wf in stream.harvest.workflows:
            if not wf.required:
                continue
            for spec in wf.workflow.outputs:
                provable = output_provable_at(world, run.number, spec)
                rows.append(
                    {
                        "stream": stream.stream,
                        "workflow": wf.workflow.name,
                        "input_tag": spec.input_tag,
                        "destination_tags": list(spec.destination_tags),
                        "outcome": wf.outcome,
                        "dqm_status": dqm_status_shown(stream, wf),
                        "provable_at": provable,
                        "present_at_lock_in": (
                            None
                            if lock_time is None
                            else provable is not None and provable <= lock_time
                        ),
                    }
                )
    return rows


def dqm_status_shown(stream: StreamPlan, wf: WorkflowPlan) -> int | None:
    """The worst quality-test status the DQM GUI shows for ``wf`` once harvested (100 OK,
    200 WARNING, 300 ERROR, 70 too few entries for a harvest without payload); None when it
    shows nothing (no harvest, or a failed one)."""
    if stream.harvest is None or stream.harvest.failed:
        return None
    return 70 if wf.outcome == "no_payload" else wf.dqm_status


def _not_required(run: RunPlan) -> list[dict[str, Any]]:
    return [
        {
            "stream": s.stream,
            "workflow": wf.workflow.name,
            "outcome": wf.outcome,
            "dqm_status": dqm_status_shown(s, wf),
        }
        for s in run.streams
        if s.harvest is not None
        for wf in s.harvest.workflows
        if not wf.required
    ]


def _files(run: RunPlan, world: TruthSource) -> list[dict[str, Any]]:
    rows = []
    for out in run.all_outputs():
        rec = world.files.get(out.key)
        rows.append(
            {
                "file": out.file_stem,
                "destination_tags": list(out.spec.destination_tags),
                "created_at": rec.created_at if rec else None,
                "upload_planned_at": out.upload_at,
                "uploaded_at": rec.uploaded_at if rec else None,
                "verdict": rec.verdict if rec else None,
                "fcsr_at_upload": rec.fcsr_at_upload if rec else None,
                "inserted_at": rec.inserted_at if rec else None,
                "written_tags": list(rec.written_tags) if rec else [],
                "faults": sorted(out.faults),
            }
        )
    return rows


def run_provable_at(run: RunPlan, required: list[dict[str, Any]], now: float) -> float | None:
    if required:
        times = [r["provable_at"] for r in required]
        return None if any(t is None for t in times) else max(times)
    if run.has_express_data:
        moments = [s.harvest.at for s in run.streams if s.harvest is not None]
    else:
        moments = [s.express_done_at for s in run.streams]
    last = max(moments, default=run.stop)
    return last if last <= now else None


def run_truth(run: RunPlan, release: ReleaseRecord | None, world: TruthSource) -> dict[str, Any]:
    lock_time = release.lock_time if release else None
    required = _required(run, world, lock_time)
    released_how = None
    if release and release.release_time is not None:
        released_how = "early" if release.early else "timer"
    return {
        "run": run.number,
        "class": run.run_class,
        "start": run.start,
        "stop": run.stop if run.number in world.started and run.stop <= world.now else None,
        "has_express_data": run.has_express_data,
        "lock_in_time": lock_time,
        "release_time": release.release_time if release else None,
        "released": released_how,
        "ready_signal_at": release.ready_at if release else None,
        "ready_signal_via": release.ready_via if release else None,
        "required": required,
        "provable_at": run_provable_at(run, required, world.now),
        "not_required": _not_required(run),
        "missed": [r for r in required if r["present_at_lock_in"] is False],
        "files": _files(run, world),
    }


def world_truth(
    world: TruthSource, releases: dict[int, ReleaseRecord], faults: list[InjectedFault]
) -> dict[str, Any]:
    return {
        "now": world.now,
        "fcsr": world.fcsr(),
        "runs": [run_truth(world.runs[n], releases.get(n), world) for n in world.started],
        "faults": [f.to_json() for f in faults],
    }
