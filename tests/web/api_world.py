"""A small world for the API tests: a migrated store holding real assessments of a few runs
(built with the domain's own rules), signals, alerts, source health and API tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx2
from asgi_lifespan import LifespanManager

from spyagency.config.settings import WebSettings
from spyagency.domain.catalogue import load_catalogue
from spyagency.domain.clock import ManualClock
from spyagency.domain.health import SourceHealth
from spyagency.domain.policy import Policy
from spyagency.domain.states import Source, UploadOutcome, Verdict
from spyagency.store import Store, build_engine, upgrade
from spyagency.web.app import create_app
from spyagency.web.authorization import Role
from spyagency.web.security import issue_token
from spyagency.web.services import WebServices
from tests.domain.world import T0, Story, judge

NOW = T0 + timedelta(hours=60)
READY, BLOCKED, PENDING, RELEASED, MISSED = 380100, 380101, 380102, 380090, 380091
GAINS = ("SiStripApvGain_pcl", ("SiStripApvGain_PCL_v0_prompt",))
QUALITY = ("SiStripBadStrip_pcl", ("SiStripBadChannel_PCL_v1_hlt",))
BASE_URL = "http://agency.test"


def two_workflow_run(run: int) -> Story:
    return (
        Story(run=run)
        .ran(2)
        .express("Express", "PromptCalibProdSiStripGains", "PromptCalibProdSiStrip")
    )


def prove(story: Story, hours: float, input_tag: str, tags: tuple[str, ...]) -> Story:
    story.at(hours).harvested(input_tag, tags).marker(input_tag, tags)
    for tag in tags:
        story.at(hours + 0.1).iov(tag)
    return story


def stories() -> dict[int, tuple[Story, float]]:
    """Each run's history and the hour it is judged at."""
    ready = prove(prove(two_workflow_run(READY), 4, *GAINS), 5, *QUALITY)
    blocked = prove(two_workflow_run(BLOCKED), 4, *GAINS)
    blocked.at(5).harvested(*QUALITY).marker(*QUALITY)
    blocked.upload(QUALITY[0], QUALITY[1][0], UploadOutcome.ERROR, info="boom")
    pending = prove(two_workflow_run(PENDING), 4, *GAINS)
    released = prove(prove(two_workflow_run(RELEASED), 4, *GAINS), 5, *QUALITY)
    released.at(49).fcsr(RELEASED + 1).released()
    missed = prove(two_workflow_run(MISSED), 4, *GAINS)
    missed.at(49).fcsr(MISSED + 1)
    prove(missed, 50, *QUALITY)
    return {
        READY: (ready, 6),
        BLOCKED: (blocked, 6),
        PENDING: (pending, 5),
        RELEASED: (released, 50),
        MISSED: (missed, 51),
    }


def seed(store: Store) -> None:
    """Write the runs as the engine would: observations, assessments, signals, health."""
    with store.transaction() as tx:
        for _run, (story, hours) in sorted(stories().items()):
            tx.observations.add_many(story.observations)
            assessment = judge(story, hours)
            tx.states.save_run(assessment, T0 + timedelta(hours=hours))
        decided = T0 + timedelta(hours=6)
        tx.signals.record(READY, Verdict.READY, f"run-{READY}-ready-1", decided, {})
        # Announced, then retracted: must not be listed as ready.
        tx.signals.record(BLOCKED, Verdict.READY, f"run-{BLOCKED}-ready-1", decided, {})
        tx.signals.record(BLOCKED, Verdict.BLOCKED, f"run-{BLOCKED}-blocked-2", decided, {})
        for source in Source:
            tx.health.record(SourceHealth(source, last_success=NOW, last_attempt=NOW))
        tx.health.record(
            SourceHealth(
                Source.DQM,
                last_success=NOW - timedelta(hours=3),
                last_attempt=NOW,
                last_error="HTTP 502",
                last_error_at=NOW,
                last_error_raw="<html>bad gateway</html>",
                consecutive_failures=4,
            )
        )
        tx.alerts.open_or_touch(
            f"workflow:{BLOCKED}:SiStripQuality",
            "workflow_failed",
            "critical",
            BLOCKED,
            "SiStripQuality",
            None,
            "SiStripQuality upload failed",
            NOW,
            state="upload_failed",
        )
        tx.alerts.open_or_touch(
            "source:dqm", "source_stale", "warning", None, None, "dqm", "x", NOW
        )
        tx.alerts.resolve("source:dqm", NOW)


class RecordingEngine:
    """An engine handle that remembers what it was asked to re-evaluate."""

    def __init__(self) -> None:
        self.asked: list[list[int]] = []

    async def reevaluate(self, runs: list[int]) -> object:
        self.asked.append(list(runs))
        return None


@dataclass
class World:
    store: Store
    services: WebServices
    clock: ManualClock
    engine: RecordingEngine
    tokens: dict[Role, str] = field(default_factory=dict)

    def auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def make_world(url: str, *, seeded: bool = True, **settings: Any) -> World:
    upgrade(url)
    store = Store(build_engine(url))
    clock = ManualClock(NOW)
    engine = RecordingEngine()
    services = WebServices(
        store=store,
        clock=clock,
        settings=WebSettings(**{"public_url": "https://agency.example", **settings}),
        catalogue=load_catalogue(),
        policy=Policy(),
        engine=engine,
        version="test",
    )
    world = World(store, services, clock, engine)
    if seeded:
        seed(store)
    for role in Role:
        world.tokens[role] = issue_token(store, f"{role.label}-bot", role, NOW)
    return world


@asynccontextmanager
async def client_for(services: WebServices) -> AsyncIterator[httpx2.AsyncClient]:
    app = create_app(services)
    async with (
        LifespanManager(app) as manager,
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=manager.app), base_url=BASE_URL
        ) as client,
    ):
        yield client


def moment(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)
