"""Assigns per-output faults (duplicates, out-of-order uploads, lost uploads, wrong IOVs).

Runs after the calibration planner, with its own random stream so that changing fault rates
does not change the rest of the world drawn from the same seed. The read faults (what the
agency reads of an item, not what happened to it) are ``read_fault_planner``'s.
"""

from __future__ import annotations

import dataclasses
import random

from spyagency.simulator.calib_planner import payload_iovs, seeded_uuid
from spyagency.simulator.faultkinds import ITEM_WORLD_FAULTS
from spyagency.simulator.plan import HarvestPlan, OutputPlan, RunPlan, StreamPlan
from spyagency.simulator.scenario import MINUTE, Scenario


def _choose_faults(
    scenario: Scenario, outputs: list[OutputPlan], rng: random.Random
) -> dict[str, set[str]]:
    chosen: dict[str, set[str]] = {}
    rates = scenario.faults.item_rates
    for out in outputs:
        for kind in ITEM_WORLD_FAULTS:
            if rng.random() < rates.get(kind, 0.0):
                chosen.setdefault(out.key, set()).add(kind)
    for kind in scenario.faults.ensure_items:
        if kind not in ITEM_WORLD_FAULTS:
            continue  # a read fault: planned on its own stream, this one must not move
        if outputs and not any(kind in kinds for kinds in chosen.values()):
            # Prefer an output that has no fault yet, so each forced fault stays readable.
            free = [o for o in outputs if o.key not in chosen] or outputs
            chosen.setdefault(rng.choice(free).key, set()).add(kind)
    return chosen


def _next_upload_of_same_tag(out: OutputPlan, outputs: list[OutputPlan]) -> float | None:
    later = [
        o.upload_at for o in outputs if o.spec.input_tag == out.spec.input_tag and o.run > out.run
    ]
    return min(later) if later else None


def _apply(
    out: OutputPlan, kinds: set[str], outputs: list[OutputPlan], rng: random.Random
) -> OutputPlan:
    upload_at = out.upload_at
    if "out_of_order_upload" in kinds:
        nxt = _next_upload_of_same_tag(out, outputs)
        # Arrive after the next run's upload of the same tag (or simply very late).
        upload_at = (nxt if nxt is not None else upload_at) + rng.uniform(5, 60) * MINUTE
    return dataclasses.replace(
        out, faults=frozenset(kinds), upload_at=max(upload_at, out.upload_at)
    )


def _duplicate(scenario: Scenario, run: RunPlan, out: OutputPlan, rng: random.Random) -> OutputPlan:
    created = out.created_at + rng.uniform(10, 90) * MINUTE
    return dataclasses.replace(
        out,
        uuid=seeded_uuid(rng),
        created_at=created,
        iovs=payload_iovs(run, out.spec, rng),
        upload_at=max(out.upload_at, created) + rng.uniform(5, 60) * MINUTE,
        faults=frozenset({"duplicate_harvest"}),
        duplicate_of=out.uuid,
    )


def _rebuild_stream(
    scenario: Scenario,
    run: RunPlan,
    stream: StreamPlan,
    chosen: dict[str, set[str]],
    outputs: list[OutputPlan],
    rng: random.Random,
) -> StreamPlan:
    harvest = stream.harvest
    if harvest is None:
        return stream
    workflows = []
    extras: list[OutputPlan] = []
    for wf in harvest.workflows:
        new_outputs = []
        for out in wf.outputs:
            kinds = chosen.get(out.key)
            if kinds:
                out = _apply(out, kinds, outputs, rng)  # noqa: PLW2901
                if "duplicate_harvest" in kinds:
                    extras.append(_duplicate(scenario, run, out, rng))
            new_outputs.append(out)
        workflows.append(dataclasses.replace(wf, outputs=tuple(new_outputs)))
    new_harvest: HarvestPlan = dataclasses.replace(
        harvest, workflows=tuple(workflows), extra_outputs=tuple(extras)
    )
    return dataclasses.replace(stream, harvest=new_harvest)


def plan_item_faults(scenario: Scenario, runs: list[RunPlan], rng: random.Random) -> list[RunPlan]:
    outputs = [o for run in runs for o in run.all_outputs()]
    chosen = _choose_faults(scenario, outputs, rng)
    if not chosen:
        return runs
    return [
        dataclasses.replace(
            run,
            streams=tuple(
                _rebuild_stream(scenario, run, s, chosen, outputs, rng) for s in run.streams
            ),
        )
        for run in runs
    ]
