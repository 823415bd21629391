"""Folding observations into what the agency knows, per run and about the whole system.

The fold keeps, per fact key, the observation with the greatest ``order_key``. That makes it
order-independent: any arrival order of the same observations yields the same knowledge, which
is what lets us replay stored observations and recompute stored state exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar, cast

from spyagency.domain.facts import (
    DqmQuality,
    ExpressConfig,
    Fact,
    FactKey,
    FirstConditionSafeRun,
    GlobalTagMap,
    HarvestFile,
    HarvestJob,
    HarvestTaskCounts,
    IovSeen,
    ItemProblem,
    NoHarvestFile,
    PromptRecoSwitch,
    RecoReleased,
    RunInfo,
    StreamDone,
    UploadMarker,
    UploadResult,
)
from spyagency.domain.iov import Iov
from spyagency.domain.observation import Observation

F = TypeVar("F", bound=Fact)


@dataclass
class FactTable:
    """Latest observation per fact key."""

    latest: dict[FactKey, Observation] = field(default_factory=dict)
    # The same facts by their type: judging asks "the facts of type X" many times per run.
    by_type: dict[type[Fact], dict[FactKey, Fact]] = field(default_factory=dict)

    def add(self, observation: Observation) -> bool:
        """Keep ``observation`` if it is newer than what we have; say whether it changed."""
        current = self.latest.get(observation.key)
        if current is not None and current.order_key() >= observation.order_key():
            return False
        self.latest[observation.key] = observation
        self.by_type.setdefault(type(observation.fact), {})[observation.key] = observation.fact
        return True

    def facts(self) -> Iterator[Fact]:
        for observation in self.latest.values():
            yield observation.fact

    def facts_of(self, cls: type[F]) -> Iterator[F]:
        # Fact classes do not inherit from one another: the facts of ``cls`` are exactly those
        # filed under it (a lookup, not a scan: judging asks this a thousand times a run).
        by_type = cast("dict[type, dict[FactKey, F]]", self.by_type)
        facts = by_type.get(cls)
        return iter(facts.values()) if facts else iter(())

    def observations(self) -> list[Observation]:
        return sorted(self.latest.values(), key=Observation.order_key)


@dataclass
class RunKnowledge:
    """Everything known about one run."""

    run: int
    table: FactTable = field(default_factory=FactTable)
    # When the agency first observed anything about the run (order-independent: a minimum).
    # A deadline that expired before this moment was not watched: its expiry proves nothing.
    first_seen: datetime | None = None

    def add(self, observation: Observation) -> bool:
        seen = observation.observed_at
        if self.first_seen is None or seen < self.first_seen:
            self.first_seen = seen
        return self.table.add(observation)

    def open_problems(self) -> list[ItemProblem]:
        """Items of this run that could not be read and have not been read fine since."""
        return sorted(
            (p for p in self.table.facts_of(ItemProblem) if p.open),
            key=lambda p: (p.source.value, p.item),
        )

    def _of(self, cls: type[Fact]) -> list[Fact]:
        return list(self.table.facts_of(cls))

    @property
    def info(self) -> RunInfo | None:
        found = list(self.table.facts_of(RunInfo))
        return found[0] if found else None

    @property
    def express_configs(self) -> list[ExpressConfig]:
        return sorted(
            self.table.facts_of(ExpressConfig),
            key=lambda c: c.stream,
        )

    def stream_done(self, stream: str) -> bool:
        return any(f.stream == stream and f.done for f in self.table.facts_of(StreamDone))

    @property
    def released(self) -> RecoReleased | None:
        found = list(self.table.facts_of(RecoReleased))
        return found[0] if found else None

    def released_observed_at(self) -> datetime | None:
        for observation in self.table.latest.values():
            if isinstance(observation.fact, RecoReleased):
                return observation.fact_time or observation.observed_at
        return None

    def harvest_files(self, input_tags: Iterable[str]) -> list[HarvestFile]:
        tags = set(input_tags)
        files = list(self.table.facts_of(HarvestFile))
        return sorted((f for f in files if f.input_tag in tags), key=lambda f: f.created)

    def upload_markers(self, input_tags: Iterable[str]) -> list[UploadMarker]:
        tags = set(input_tags)
        markers = list(self.table.facts_of(UploadMarker))
        return sorted((m for m in markers if m.input_tag in tags), key=lambda m: m.attempted)

    def upload_results(self, input_tags: Iterable[str]) -> list[UploadResult]:
        tags = set(input_tags)
        return [f for f in self.table.facts_of(UploadResult) if f.input_tag in tags]

    def iovs(self, tag: str) -> list[Iov]:
        return sorted(
            Iov(f.since, f.insertion_time, f.payload_hash)
            for f in self.table.facts_of(IovSeen)
            if f.tag == tag
        )

    def dqm(self, workflow: str) -> DqmQuality | None:
        for f in self.table.facts_of(DqmQuality):
            if f.workflow == workflow:
                return f
        return None

    def harvest_jobs(self, streams: Iterable[str]) -> list[HarvestJob]:
        wanted = set(streams)
        # Sorted: one stream has a job per producer, and judging must not follow fold order.
        return sorted(
            (f for f in self.table.facts_of(HarvestJob) if f.stream in wanted),
            key=lambda f: (f.stream, f.producer),
        )

    def harvest_tasks(self, producer: str, streams: Iterable[str]) -> list[HarvestTaskCounts]:
        wanted = set(streams)
        return sorted(
            (
                f
                for f in self.table.facts_of(HarvestTaskCounts)
                if f.producer == producer and f.stream in wanted
            ),
            key=lambda f: f.stream,
        )

    def harvest_over_received(self, producer: str, streams: Iterable[str]) -> datetime | None:
        """When the agency received the latest report that ``producer``'s harvest is over
        without failure in every one of ``streams`` (a task still going in one of them could
        yet write the same input tag); None while any is not."""
        wanted = set(streams)
        tasks = self.harvest_tasks(producer, wanted)
        if not tasks or {t.stream for t in tasks} != wanted:
            return None
        received = [self.received_at(task) for task in tasks]
        if not all(task.finished_ok for task in tasks):
            return None
        return max((r for r in received if r is not None), default=None)

    def listed_without(self, input_tag: str, after: datetime) -> bool:
        """A full listing made after ``after`` held no file of ``input_tag``."""
        absent = self.no_harvest_file(input_tag)
        return absent is not None and absent.after >= after

    def no_harvest_file(self, input_tag: str) -> NoHarvestFile | None:
        for f in self.table.facts_of(NoHarvestFile):
            if f.input_tag == input_tag:
                return f
        return None

    def observations(self) -> list[Observation]:
        return self.table.observations()

    def received_at(self, fact: Fact) -> datetime | None:
        """When the agency received ``fact`` (its latest value), whatever the upstream says."""
        observation = self.table.latest.get(fact.key())
        return observation.observed_at if observation is not None else None

    def seen_at(self, fact: Fact) -> datetime | None:
        """When the upstream says ``fact`` happened, else when we first had it."""
        observation = self.table.latest.get(fact.key())
        if observation is None:
            return None
        return observation.fact_time or observation.observed_at


@dataclass
class SystemKnowledge:
    """Facts about the whole system: FCSR (with when each value was first seen), the
    PromptReco switch, global tag maps."""

    table: FactTable = field(default_factory=FactTable)
    fcsr_first_seen: dict[int, datetime] = field(default_factory=dict)

    def add(self, observation: Observation) -> bool:
        fact = observation.fact
        if isinstance(fact, FirstConditionSafeRun):
            seen = observation.fact_time or observation.observed_at
            known = self.fcsr_first_seen.get(fact.value)
            if known is None or seen < known:
                self.fcsr_first_seen[fact.value] = seen
        return self.table.add(observation)

    @property
    def fcsr(self) -> int | None:
        found = list(self.table.facts_of(FirstConditionSafeRun))
        return found[0].value if found else None

    def locked_at(self, run: int) -> datetime | None:
        """When the Tier-0 was first seen to have locked ``run`` (FCSR moved past it)."""
        times = [seen for value, seen in self.fcsr_first_seen.items() if value > run]
        return min(times) if times else None

    @property
    def promptreco_enabled(self) -> bool | None:
        found = list(self.table.facts_of(PromptRecoSwitch))
        return found[0].enabled if found else None

    def global_tag_tags(self, global_tag: str) -> tuple[str, ...] | None:
        for f in self.table.facts_of(GlobalTagMap):
            if f.global_tag == global_tag:
                return f.tags
        return None


@dataclass(frozen=True, slots=True)
class RunChanged:
    """Folding an observation changed what is known about this run."""

    run: int


@dataclass(frozen=True, slots=True)
class SystemChanged:
    """Folding an observation changed a system fact (a global tag map, the PromptReco switch,
    ...): what any run needs or may do can follow from it."""


SYSTEM_CHANGED = SystemChanged()

Change = RunChanged | SystemChanged


@dataclass
class Knowledge:
    """The whole fold: per-run knowledge plus system knowledge."""

    runs: dict[int, RunKnowledge] = field(default_factory=dict)
    system: SystemKnowledge = field(default_factory=SystemKnowledge)

    def add(self, observation: Observation) -> Change | None:
        """Fold one observation in; say what it changed (``None``: it changed nothing)."""
        run = observation.run
        if run is None:
            return SYSTEM_CHANGED if self.system.add(observation) else None
        knowledge = self.runs.get(run)
        if knowledge is None:
            knowledge = self.runs[run] = RunKnowledge(run)
        return RunChanged(run) if knowledge.add(observation) else None

    def run(self, run: int) -> RunKnowledge:
        return self.runs.get(run) or RunKnowledge(run)

    def is_news(self, observation: Observation) -> bool:
        """False when the observation only repeats the fact we already hold for its key.

        Spies report what they see on every poll; only changes are worth storing and folding,
        which keeps the log proportional to what happened, not to how often we looked.
        """
        run = observation.run
        if run is None:
            table = self.system.table
        else:
            known = self.runs.get(run)
            if known is None:
                return True
            table = known.table
        current = table.latest.get(observation.key)
        return current is None or current.fact != observation.fact


def fold(observations: Iterable[Observation]) -> Knowledge:
    knowledge = Knowledge()
    for observation in observations:
        knowledge.add(observation)
    return knowledge
