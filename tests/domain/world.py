"""Builders for domain tests: a run's history as observations, written like a story."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from spyagency.domain.catalogue import Catalogue, load_catalogue
from spyagency.domain.facts import (
    DqmQuality,
    ExpressConfig,
    Fact,
    FirstConditionSafeRun,
    HarvestFile,
    HarvestJob,
    HarvestTaskCounts,
    IovSeen,
    NoHarvestFile,
    RecoReleased,
    RunInfo,
    StreamDone,
    UploadMarker,
    UploadResult,
)
from spyagency.domain.health import SourceHealth
from spyagency.domain.iov import TimeType
from spyagency.domain.knowledge import Knowledge, fold
from spyagency.domain.observation import Observation
from spyagency.domain.overrides import Override
from spyagency.domain.policy import Policy
from spyagency.domain.states import DqmStatus, HarvestJobState, Source, UploadOutcome
from spyagency.domain.verdict import Context, RunAssessment, judge_run

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
RUN = 380100


def source_of(fact: Fact) -> Source:
    return {
        RunInfo: Source.OMS,
        ExpressConfig: Source.TIER0,
        StreamDone: Source.TIER0,
        RecoReleased: Source.TIER0,
        FirstConditionSafeRun: Source.TIER0,
        HarvestFile: Source.HARVEST,
        UploadMarker: Source.HARVEST,
        UploadResult: Source.UPLOAD_LOG,
        IovSeen: Source.CONDDB,
        DqmQuality: Source.DQM,
        HarvestJob: Source.WMSTATS,
        HarvestTaskCounts: Source.WMSTATS,
        NoHarvestFile: Source.HARVEST,
    }.get(type(fact), Source.TIER0)


def hash_of(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


@dataclass
class Story:
    """A run's history. ``at(hours)`` sets the time of the next facts (hours after start)."""

    run: int = RUN
    observations: list[Observation] = field(default_factory=list)
    clock: datetime = T0
    catalogue: Catalogue = field(default_factory=load_catalogue)

    def at(self, hours: float) -> Story:
        self.clock = T0 + timedelta(hours=hours)
        return self

    def see(self, fact: Fact, fact_time: datetime | None = None) -> Story:
        self.observations.append(Observation(source_of(fact), self.clock, fact, "", fact_time))
        return self

    def ran(self, hours: float = 2.0, **info: object) -> Story:
        defaults: dict[str, object] = {
            "components": ("PIXEL", "TRACKER", "ECAL"),
            "b_field": 3.8,
            "run_class": "Collisions26",
        }
        defaults.update(info)
        return self.see(
            RunInfo(self.run, T0, T0 + timedelta(hours=hours), **defaults)  # type: ignore[arg-type]
        )

    def see_running(self) -> Story:
        return self.see(RunInfo(self.run, T0, None, components=("PIXEL", "TRACKER"), b_field=3.8))

    def express(self, stream: str, *producers: str) -> Story:
        return self.see(ExpressConfig(self.run, stream, producers, "GT_Express", "Run2026A"))

    def stream_done(self, stream: str) -> Story:
        return self.see(StreamDone(self.run, stream, True))

    def harvested(
        self, input_tag: str, tags: tuple[str, ...], uuid: str = "u1", payload: str = "p"
    ) -> Story:
        return self.see(
            HarvestFile(
                self.run, input_tag, uuid, self.clock, (hash_of(payload),), tags, None, None
            ),
            self.clock,
        )

    def marker(self, input_tag: str, tags: tuple[str, ...], uuid: str = "u1") -> Story:
        return self.see(UploadMarker(self.run, input_tag, uuid, self.clock, tags), self.clock)

    def iov(
        self,
        tag: str,
        payload: str = "p",
        since: int | None = None,
        time_type: TimeType = TimeType.RUN,
    ) -> Story:
        return self.see(
            IovSeen(
                self.run,
                tag,
                time_type,
                self.run if since is None else since,
                self.clock,
                hash_of(payload),
            ),
            self.clock,
        )

    def upload(
        self, input_tag: str, tag: str, outcome: UploadOutcome, uuid: str = "u1", info: str = ""
    ) -> Story:
        return self.see(UploadResult(self.run, input_tag, uuid, tag, outcome, info))

    def dqm(
        self,
        workflow: str,
        status: DqmStatus,
        vetoed: bool | None = None,
        *,
        alignment_read: bool = False,
        pede_ok: bool | None = None,
        pede_message: str | None = None,
        db_updated: bool | None = None,
    ) -> Story:
        if pede_message is None and pede_ok is not None:
            pede_message = "ok" if pede_ok else "failed"
        return self.see(
            DqmQuality(
                self.run,
                workflow,
                status,
                ("t1",) if status is DqmStatus.ERROR else (),
                vetoed,
                db_updated,
                alignment_read=alignment_read or vetoed is not None,
                pede_message=pede_message,
                pede_ok=pede_ok,
            )
        )

    def harvest_job(
        self, stream: str, state: HarvestJobState, *outputs: str, producer: str = ""
    ) -> Story:
        return self.see(HarvestJob(self.run, stream, state, outputs, producer=producer))

    def harvest_task(
        self,
        stream: str,
        producer: str,
        *,
        succeeded: int = 1,
        failed: int = 0,
        active: int = 0,
        finished: int = 1,
        still_open: int = 0,
    ) -> Story:
        """The agent's counts for the producer's AlcaHarvest task (default: over, worked)."""
        task = HarvestTaskCounts(
            self.run, stream, producer, succeeded, failed, active, finished, still_open
        )
        return self.see(task)

    def nothing_harvested(self, input_tag: str, after_hours: float) -> Story:
        """A full listing, now, found no file of ``input_tag`` after the task report made at
        ``after_hours``."""
        after = T0 + timedelta(hours=after_hours)
        return self.see(NoHarvestFile(self.run, input_tag, after))

    def fcsr(self, value: int) -> Story:
        return self.see(FirstConditionSafeRun(value))

    def released(self) -> Story:
        return self.see(RecoReleased(self.run, "GT_Prompt"))

    def knowledge(self) -> Knowledge:
        return fold(self.observations)


def healthy(now: datetime) -> dict[Source, SourceHealth]:
    return {s: SourceHealth(s, last_success=now) for s in Source}


def judge(
    story: Story,
    hours: float,
    policy: Policy | None = None,
    health: dict[Source, SourceHealth] | None = None,
    overrides: tuple[Override, ...] = (),
    observations: list[Observation] | None = None,
) -> RunAssessment:
    now = T0 + timedelta(hours=hours)
    knowledge = fold(observations if observations is not None else story.observations)
    context = Context(
        catalogue=story.catalogue,
        policy=policy or Policy(),
        now=now,
        health=healthy(now) if health is None else health,
        system=knowledge.system,
        overrides=overrides,
    )
    return judge_run(knowledge.run(story.run), context)
