"""Typed facts the spies report. Each fact has a key: a later observation of the same key
replaces an earlier one, facts with different keys accumulate.

Facts serialise to plain JSON-able dicts (``fact_to_dict`` / ``fact_from_dict``) so the store
can keep them and replays can rebuild them exactly.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar, Union, get_args, get_origin

from spyagency.domain.iov import TimeType
from spyagency.domain.states import DqmStatus, HarvestJobState, Source, UploadOutcome

FactKey = tuple[str | int | None, ...]


@dataclass(frozen=True)
class RunInfo:
    """Run metadata (OMS, Run Registry)."""

    kind: ClassVar[str] = "run_info"
    run: int
    start: datetime | None
    stop: datetime | None
    fill: int | None = None
    run_class: str | None = None
    b_field: float | None = None
    components: tuple[str, ...] = ()
    stable_beam: bool | None = None
    sequence: str | None = None
    # OMS ``tier0_transfer``: False for local and MiniDAQ runs, which never reach the Tier-0.
    tier0_transfer: bool | None = None

    def key(self) -> FactKey:
        return (self.kind, self.run)


@dataclass(frozen=True)
class ExpressConfig:
    """The Tier-0 express configuration of one stream of a run: which PCL producers run."""

    kind: ClassVar[str] = "express_config"
    run: int
    stream: str
    producers: tuple[str, ...]
    global_tag: str | None = None
    acq_era: str | None = None
    # ``proc_version``: the ``-v<N>`` of the stream's ALCAPROMPT datasets (DQM folders).
    proc_version: int | None = None

    def key(self) -> FactKey:
        return (self.kind, self.run, self.stream)


@dataclass(frozen=True)
class StreamDone:
    kind: ClassVar[str] = "stream_done"
    run: int
    stream: str
    done: bool

    def key(self) -> FactKey:
        return (self.kind, self.run, self.stream)


@dataclass(frozen=True)
class RecoReleased:
    """PromptReco of the run was released (``reco_config`` rows exist)."""

    kind: ClassVar[str] = "reco_released"
    run: int
    prompt_global_tag: str | None
    datasets: tuple[str, ...] = ()

    def key(self) -> FactKey:
        return (self.kind, self.run)


@dataclass(frozen=True)
class FirstConditionSafeRun:
    kind: ClassVar[str] = "fcsr"
    value: int

    def key(self) -> FactKey:
        return (self.kind,)


@dataclass(frozen=True)
class PromptRecoSwitch:
    kind: ClassVar[str] = "promptreco_status"
    enabled: bool

    def key(self) -> FactKey:
        return (self.kind,)


@dataclass(frozen=True)
class GlobalTagMap:
    """The tags a global tag maps (the Prompt GT says which tags PromptReco reads)."""

    kind: ClassVar[str] = "global_tag_map"
    global_tag: str
    tags: tuple[str, ...]

    def key(self) -> FactKey:
        return (self.kind, self.global_tag)


@dataclass(frozen=True)
class HarvestFile:
    """A harvested sqlite file and its metadata in the harvest area."""

    kind: ClassVar[str] = "harvest_file"
    run: int
    input_tag: str
    uuid: str
    created: datetime
    payload_hashes: tuple[str, ...]
    destination_tags: tuple[str, ...]
    since: int | None = None
    file_sha1: str | None = None
    # The sha1 of the upload tarball the Tier-0 builds from this file and its metadata
    # (dmwm/T0 ConditionUpload/upload.py): the upload service files its log under it.
    upload_hash: str | None = None

    def key(self) -> FactKey:
        return (self.kind, self.run, self.input_tag, self.uuid)


@dataclass(frozen=True)
class UploadMarker:
    """The ``.txt.uploaded`` marker: the Tier-0 attempted the upload with this metadata."""

    kind: ClassVar[str] = "upload_marker"
    run: int
    input_tag: str
    uuid: str
    attempted: datetime
    destination_tags: tuple[str, ...]

    def key(self) -> FactKey:
        return (self.kind, self.run, self.input_tag, self.uuid)


@dataclass(frozen=True)
class UploadResult:
    """What the upload service logged for one destination tag of one uploaded file."""

    kind: ClassVar[str] = "upload_result"
    run: int
    input_tag: str
    uuid: str
    tag: str
    outcome: UploadOutcome
    info: str = ""

    def key(self) -> FactKey:
        return (self.kind, self.run, self.input_tag, self.uuid, self.tag)


@dataclass(frozen=True)
class IovSeen:
    """An IOV in the CondDB that may carry conditions for ``run``."""

    kind: ClassVar[str] = "iov"
    run: int
    tag: str
    time_type: TimeType
    since: int
    insertion_time: datetime
    payload_hash: str

    def key(self) -> FactKey:
        return (self.kind, self.run, self.tag, self.since, self.insertion_time.isoformat())


@dataclass(frozen=True)
class DqmQuality:
    """Quality tests and alignment decision of a workflow's ALCAPROMPT DQM folder."""

    kind: ClassVar[str] = "dqm_quality"
    run: int
    workflow: str
    status: DqmStatus
    failed_tests: tuple[str, ...] = ()
    vetoed: bool | None = None
    db_updated: bool | None = None
    # The alignment's own quality evidence (the PCL runs no quality tests, so ``status`` is
    # OTHER there): whether the ``statusResults`` bins were read at all, pede's exit message
    # as published, and whether that message says pede ended normally (None: not known).
    alignment_read: bool = False
    pede_message: str | None = None
    pede_ok: bool | None = None

    def key(self) -> FactKey:
        return (self.kind, self.run, self.workflow)


@dataclass(frozen=True)
class HarvestJob:
    """An AlcaHarvest job of one (run, stream), from Tier-0 job monitoring."""

    kind: ClassVar[str] = "harvest_job"
    run: int
    stream: str
    state: HarvestJobState
    outputs: tuple[str, ...] = ()
    detail: str = ""
    # The PromptCalibProd* producer whose AlcaHarvest task ran the job (one task per
    # producer, WMCore Express.py); "" when the task could not be attributed.
    producer: str = ""

    def key(self) -> FactKey:
        return (self.kind, self.run, self.stream, self.producer)


@dataclass(frozen=True)
class HarvestTaskCounts:
    """The job counts of one producer's AlcaHarvest task, as its agent reports them.

    Unlike job summaries, these counts include jobs that worked at their first try (WMCore's
    AnalyticsDataCollector counts every job of the task by state), and the task's WMBS
    subscriptions say whether more jobs can come. Sums over every agent reporting the task.
    """

    kind: ClassVar[str] = "harvest_task"
    run: int
    stream: str
    producer: str
    succeeded: int
    failed: int
    # Jobs in any other state (queued, submitted, cool-off, paused, or a state not known).
    active: int
    subscriptions_finished: int
    subscriptions_open: int

    def key(self) -> FactKey:
        return (self.kind, self.run, self.stream, self.producer)

    @property
    def finished_ok(self) -> bool:
        """The producer's own positive statement that its harvest is over without failure:
        every subscription finished, no job failed or still going. Zero jobs is a harvest
        that ran none (a stream without express data: no file ever reached it)."""
        return (
            self.failed == 0
            and self.active == 0
            and self.subscriptions_finished > 0
            and self.subscriptions_open == 0
        )


@dataclass(frozen=True)
class NoHarvestFile:
    """The harvest area, listed in full after the producer's harvest task was reported
    finished, holds no file of this run for ``input_tag``. ``after`` is when the agency
    received that report: a later report (another job) makes the listing stale.

    An AlcaHarvest job copies its files to the harvest area before it ends (WMCore
    ``AlcaHarvest.py``), so a listing made after the job's success sees all it wrote.
    """

    kind: ClassVar[str] = "no_harvest_file"
    run: int
    input_tag: str
    after: datetime

    def key(self) -> FactKey:
        return (self.kind, self.run, self.input_tag)


@dataclass(frozen=True)
class ItemProblem:
    """One item of a source (a file, a folder, one answer about one run) could not be read.

    Evidence on that item only: the rest of the source is fine. ``open`` is False once the
    item was read again without trouble (the same key, so the fold keeps the latest word).
    The concern fields say which workflows it hides; all None means the whole run.
    """

    kind: ClassVar[str] = "item_problem"
    run: int
    source: Source
    item: str
    message: str
    open: bool = True
    workflow: str | None = None
    input_tag: str | None = None
    stream: str | None = None
    producer: str | None = None

    def key(self) -> FactKey:
        return (self.kind, self.run, self.source.value, self.item)


Fact = Union[  # noqa: UP007 - get_args() on this union drives (de)serialisation
    RunInfo,
    ExpressConfig,
    StreamDone,
    RecoReleased,
    FirstConditionSafeRun,
    PromptRecoSwitch,
    GlobalTagMap,
    HarvestFile,
    UploadMarker,
    UploadResult,
    IovSeen,
    DqmQuality,
    HarvestJob,
    HarvestTaskCounts,
    NoHarvestFile,
    ItemProblem,
]
FACT_TYPES: dict[str, type[Any]] = {cls.kind: cls for cls in get_args(Fact)}


def fact_run(fact: Fact) -> int | None:
    """The run a fact is about, or None for facts about the whole system."""
    run = getattr(fact, "run", None)
    return run if isinstance(run, int) else None


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


def fact_to_dict(fact: Fact) -> dict[str, Any]:
    body = {f.name: _encode(getattr(fact, f.name)) for f in dataclasses.fields(fact)}
    return {"kind": fact.kind, **body}


def _decode(annotation: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return _decode(inner[0], value)
    if origin is tuple:
        (item,) = get_args(annotation)[:1]
        return tuple(_decode(item, v) for v in value)
    if annotation is datetime:
        return datetime.fromisoformat(value)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation(value)
    return value


def fact_from_dict(data: dict[str, Any]) -> Fact:
    """Rebuild a fact; raises ``ValueError`` on an unknown kind or a missing field."""
    kind = data.get("kind")
    cls = FACT_TYPES.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown fact kind {kind!r}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            values[f.name] = _decode(hints[f.name], data[f.name])
        elif f.default is dataclasses.MISSING:
            raise ValueError(f"fact {kind}: missing field {f.name!r}")
    fact: Fact = cls(**values)
    return fact
