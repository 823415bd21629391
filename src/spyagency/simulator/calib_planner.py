"""Plans the calibration side of each run: Express streams, harvest jobs, payloads, uploads."""

from __future__ import annotations

import dataclasses
import hashlib
import random
import uuid

from spyagency.simulator.catalogue import Catalogue, HarvestWorkflow, PclOutput
from spyagency.simulator.iov import lumi_since, run_since
from spyagency.simulator.plan import (
    HarvestPlan,
    OutputPlan,
    PlannedIov,
    RunPlan,
    StreamPlan,
    WorkflowOutcome,
    WorkflowPlan,
)
from spyagency.simulator.scenario import HOUR, MINUTE, Scenario


def seeded_uuid(rng: random.Random) -> str:
    """uuid4-shaped but drawn from the world's random stream, so a seed reproduces file names."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def payload_iovs(run: RunPlan, spec: PclOutput, rng: random.Random) -> tuple[PlannedIov, ...]:
    if spec.time_type == "run":
        sinces = [run_since(run.number)]
    else:
        # By-lumi payloads: one from lumi 1, then a few more starting later in the run.
        extra = sorted(rng.sample(range(2, run.lumisections + 1), k=min(run.lumisections - 1, 3)))
        sinces = [lumi_since(run.number, lumi) for lumi in [1, *extra[: rng.randint(0, 3)]]]
    iovs = []
    for index, since in enumerate(sinces):
        data = (
            f"{spec.object_type}|{spec.input_tag}|run={run.number}|iov={index}|"
            f"{rng.getrandbits(64):016x}"
        ).encode()
        iovs.append(PlannedIov(since, data, hashlib.sha1(data).hexdigest()))  # noqa: S324
    return tuple(iovs)


def _upload_time(
    scenario: Scenario, run: RunPlan, wf: HarvestWorkflow, created: float, rng: random.Random
) -> float:
    """The scenario's delay scaled by the workflow's own ``latency_scale`` (the draws are
    the same whatever the scale, so the rest of the world does not move with it)."""
    timing = scenario.timing
    if rng.random() < timing.upload_tail_fraction:
        return max(created + MINUTE, run.stop + timing.upload_tail_hours.sample(rng) * HOUR)
    delay = timing.upload_after_harvest_minutes.sample(rng) * wf.latency_scale
    return created + max(1.0, delay) * MINUTE


def plan_output(
    scenario: Scenario,
    run: RunPlan,
    stream: str,
    wf: HarvestWorkflow,
    spec: PclOutput,
    job_uuid: str,
    created: float,
    rng: random.Random,
) -> OutputPlan:
    return OutputPlan(
        run=run.number,
        stream=stream,
        workflow=wf.name,
        spec=spec,
        uuid=job_uuid,
        created_at=created,
        iovs=payload_iovs(run, spec, rng),
        upload_at=_upload_time(scenario, run, wf, created, rng),
        processing_s=scenario.timing.upload_processing_seconds.sample(rng),
        upload_error=rng.random() < scenario.outcomes.upload_error_rate * wf.failure_scale,
        faults=frozenset(),
    )


def _outcome(scenario: Scenario, wf: HarvestWorkflow, rng: random.Random) -> WorkflowOutcome:
    outcomes = scenario.outcomes
    if wf.is_alignment and rng.random() < outcomes.alignment_veto_rate:
        # Only an alignment whose DQM books a "DB update vetoed" bin can show a veto; the
        # high-granularity ones decline an update by writing nothing, which is an ordinary
        # no-payload harvest. The draw is made for every alignment alike, so the random
        # stream (and every other outcome of the world) does not depend on the flag.
        return "vetoed" if wf.veto_bin else "no_payload"
    if rng.random() < outcomes.no_payload_rate:
        return "no_payload"
    return "payload"


def _dqm_status(scenario: Scenario, rng: random.Random) -> int:
    draw = rng.random()
    if draw < scenario.outcomes.dqm_error_rate:
        return 300
    if draw < scenario.outcomes.dqm_error_rate + scenario.outcomes.dqm_warning_rate:
        return 200
    return 100


def plan_harvest(
    scenario: Scenario,
    catalogue: Catalogue,
    run: RunPlan,
    stream: str,
    at: float,
    rng: random.Random,
) -> HarvestPlan:
    failed = rng.random() < scenario.outcomes.harvest_failure_rate
    job_uuid = seeded_uuid(rng)
    workflows = []
    for wf in catalogue.workflows_of(catalogue.streams[stream]):
        outcome: WorkflowOutcome = "harvest_failed" if failed else _outcome(scenario, wf, rng)
        outputs: tuple[OutputPlan, ...] = ()
        if outcome == "payload":
            outputs = tuple(
                plan_output(scenario, run, stream, wf, spec, job_uuid, at, rng)
                for spec in wf.outputs
            )
        workflows.append(WorkflowPlan(wf, outcome, _dqm_status(scenario, rng), outputs))
    return HarvestPlan(at=at, failed=failed, uuid=job_uuid, workflows=tuple(workflows))


def plan_calibrations(
    scenario: Scenario, catalogue: Catalogue, run: RunPlan, rng: random.Random
) -> RunPlan:
    timing = scenario.timing
    streams = []
    for spec in catalogue.streams_for(run.run_class):
        done = run.stop + timing.express_done_after_end_minutes.sample(rng) * MINUTE
        harvest = None
        if run.has_express_data:
            at = done + timing.harvest_after_express_minutes.sample(rng) * MINUTE
            harvest = plan_harvest(scenario, catalogue, run, spec.name, at, rng)
        streams.append(StreamPlan(run.number, spec.name, done, harvest))
    return dataclasses.replace(run, streams=tuple(streams))
