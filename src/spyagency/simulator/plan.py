"""The planned world: immutable records of what will happen, drawn up front from the seed.

The planners fill these records; the ``World`` then materialises them in time order. Dynamic
decisions (Tier-0 lock-in, upload acceptance against the FCSR) are *not* planned here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from spyagency.simulator.catalogue import HarvestWorkflow, PclOutput

RunClass = Literal["collisions", "cosmics"]
WorkflowOutcome = Literal["payload", "no_payload", "vetoed", "harvest_failed"]


@dataclass(frozen=True)
class PlannedIov:
    since: int
    payload_data: bytes
    payload_hash: str  # sha1 hex of payload_data


@dataclass(frozen=True)
class OutputPlan:
    """One sqlite file of one harvest job, and its fate at the upload service."""

    run: int
    stream: str
    workflow: str
    spec: PclOutput
    uuid: str
    created_at: float
    iovs: tuple[PlannedIov, ...]
    upload_at: float
    processing_s: float
    upload_error: bool
    faults: frozenset[str]
    duplicate_of: str | None = None  # uuid of the original job when this is a duplicate

    @property
    def file_stem(self) -> str:
        return f"Run{self.run}@{self.spec.input_tag}@{self.uuid}"

    @property
    def key(self) -> str:
        return self.file_stem


@dataclass(frozen=True)
class WorkflowPlan:
    workflow: HarvestWorkflow
    outcome: WorkflowOutcome
    dqm_status: int  # worst quality-test status: 100 OK, 200 WARNING, 300 ERROR
    outputs: tuple[OutputPlan, ...]

    @property
    def required(self) -> bool:
        """Would PromptReco want a payload from it (no payload by design is not wanted)."""
        return self.outcome in ("payload", "harvest_failed")


@dataclass(frozen=True)
class HarvestPlan:
    at: float
    failed: bool
    uuid: str
    workflows: tuple[WorkflowPlan, ...]
    extra_outputs: tuple[OutputPlan, ...] = ()  # duplicate jobs (fault)


@dataclass(frozen=True)
class StreamPlan:
    run: int
    stream: str
    express_done_at: float
    harvest: HarvestPlan | None  # None when the stream delivered no data

    @property
    def request_name(self) -> str:
        return f"Express_Run{self.run}_Stream{self.stream}"


@dataclass(frozen=True)
class ReadFault:
    """One read fault of one item (``read_fault_planner``): for ``duration_s`` from ``start``,
    the agency reads something wrong about the item, though nothing wrong happened to it.

    ``item`` names what is hit: the output's ``key`` (``corrupt_harvest_file``,
    ``late_item``), the workflow's name (``missing_folder``) or ``""`` for the whole run
    (``truncated_item``). ``variant``: ``db`` or ``db+txt`` for a corrupt file (which of its
    files read as garbage), ``log``, ``iov`` or ``log+iov`` for a late item (see
    ``read_fault_planner``), empty otherwise. ``start`` is planned: the moment the item
    appears (file written, harvest, upload attempt); only a late IOV's window starts at the
    upload's end, which the world decides (a blocked CondDB holds uploads back).
    """

    kind: str
    run: int
    item: str
    start: float
    duration_s: float
    variant: str = ""

    @property
    def end(self) -> float:
        return self.start + self.duration_s

    def covers(self, t: float) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True)
class RunPlan:
    number: int
    fill: int
    run_class: RunClass
    start: float
    stop: float
    lumisections: int
    has_express_data: bool
    b_field: float
    stable_beam: bool
    energy: float
    components: tuple[str, ...]
    recorded_lumi: float
    hlt_key: str
    l1_key: str
    streams: tuple[StreamPlan, ...] = ()
    read_faults: tuple[ReadFault, ...] = ()

    def read_faults_of(self, kind: str, item: str | None = None) -> list[ReadFault]:
        """This run's read faults of ``kind`` (on ``item`` only, when given)."""
        return [f for f in self.read_faults if f.kind == kind and (item is None or f.item == item)]

    def all_outputs(self) -> list[OutputPlan]:
        outputs: list[OutputPlan] = []
        for stream in self.streams:
            if stream.harvest is None:
                continue
            for wf in stream.harvest.workflows:
                outputs.extend(wf.outputs)
            outputs.extend(stream.harvest.extra_outputs)
        return outputs
