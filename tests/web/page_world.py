"""A world for the page tests: a migrated SQLite store holding real assessments (judged by the
domain's own rules), with overrides, alerts, audit entries, source health and API tokens.

Pages are served either by a bare FastAPI app carrying only the pages router (so these tests
do not depend on the rest of the web layer) or by the full ``create_app``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from spyagency.config.settings import WebSettings
from spyagency.domain.catalogue import load_catalogue
from spyagency.domain.clock import ManualClock
from spyagency.domain.facts import DqmQuality
from spyagency.domain.health import SourceHealth
from spyagency.domain.overrides import Override, OverrideKind
from spyagency.domain.policy import Policy
from spyagency.domain.states import DqmStatus, Source, UploadOutcome, Verdict
from spyagency.domain.verdict import RunAssessment
from spyagency.store import Store, build_engine, upgrade
from spyagency.store.controls import SIGNALS_ENABLED
from spyagency.web import pages
from spyagency.web.authorization import Role
from spyagency.web.security import issue_token, secret_for
from spyagency.web.services import WebServices
from tests.domain.world import T0, Story, judge

NOW = T0 + timedelta(hours=60)
RELEASED, MISSED, READY, BLOCKED, PENDING, EVIL = (
    380090,
    380091,
    380100,
    380101,
    380102,
    380103,
)
GAINS = ("SiStripApvGain_pcl", ("SiStripApvGain_PCL_v0_prompt",))
QUALITY = ("SiStripBadStrip_pcl", ("SiStripBadChannel_PCL_v1_hlt",))
EVIL_REASON = "<script>alert('pwned')</script>"
RAW_ERROR = "<html><script>bad()</script>502 bad gateway</html>"
BASE_URL = "http://agency.test"


def moment(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def two_workflow_run(run: int, start_hours: float = 0) -> Story:
    story = Story(run=run)
    story.at(start_hours)
    return story.ran(2).express("Express", "PromptCalibProdSiStripGains", "PromptCalibProdSiStrip")


def prove(story: Story, hours: float, input_tag: str, tags: tuple[str, ...]) -> Story:
    story.at(hours).harvested(input_tag, tags).marker(input_tag, tags)
    for tag in tags:
        story.at(hours + 0.1).iov(tag)
    return story


def stories() -> dict[int, tuple[Story, float]]:
    """Each run's history and the hour it is judged at (hours after ``T0``)."""
    ready = prove(prove(two_workflow_run(READY), 4, *GAINS), 5, *QUALITY)
    ready.at(5.5).see(DqmQuality(READY, "SiStripGains", DqmStatus.OK, (), None, True))
    blocked = prove(two_workflow_run(BLOCKED), 4, *GAINS)
    blocked.at(5).harvested(*QUALITY).marker(*QUALITY)
    blocked.upload(QUALITY[0], QUALITY[1][0], UploadOutcome.ERROR, info="boom")
    pending = prove(two_workflow_run(PENDING), 4, *GAINS)
    released = prove(prove(two_workflow_run(RELEASED), 4, *GAINS), 5, *QUALITY)
    released.at(49).fcsr(RELEASED + 1).released()
    missed = prove(two_workflow_run(MISSED), 4, *GAINS)
    missed.at(49).fcsr(MISSED + 1)
    prove(missed, 50, *QUALITY)
    evil = prove(two_workflow_run(EVIL), 4, *GAINS)
    return {
        RELEASED: (released, 50),
        MISSED: (missed, 51),
        READY: (ready, 6),
        BLOCKED: (blocked, 6),
        PENDING: (pending, 5),
        EVIL: (evil, 5),
    }


def assessments() -> dict[int, RunAssessment]:
    judged = {run: judge(story, hours) for run, (story, hours) in stories().items()}
    # A reason carrying markup (say, from an upstream error text) must reach pages escaped.
    evil = judged[EVIL]
    judged[EVIL] = dataclasses.replace(evil, reasons=(EVIL_REASON, *evil.reasons))
    return judged


def seed(store: Store) -> None:
    """Write the runs as the engine would, plus what people and sources left behind."""
    judged = assessments()
    with store.transaction() as tx:
        for run, (story, hours) in sorted(stories().items()):
            tx.observations.add_many(story.observations)
            tx.states.save_run(judged[run], moment(hours))
        tx.signals.record(READY, Verdict.READY, f"run-{READY}-ready-1", moment(6), {})
        for source in Source:
            tx.health.record(SourceHealth(source, last_success=NOW, last_attempt=NOW))
        tx.health.record(
            SourceHealth(
                Source.DQM,
                last_success=NOW - timedelta(hours=3),
                last_attempt=NOW,
                last_error="HTTP 502 from the DQM GUI",
                last_error_at=NOW,
                last_error_raw=RAW_ERROR,
                consecutive_failures=4,
            )
        )
        tx.alerts.open_or_touch(
            f"failed:{BLOCKED}:SiStripQuality",
            "failed",
            "critical",
            BLOCKED,
            "SiStripQuality",
            None,
            "SiStripQuality upload failed",
            NOW,
            state="upload_failed",
        )
        tx.alerts.open_or_touch(
            "source_stale:dqm", "source_stale", "warning", None, None, "dqm", "dqm stale", NOW
        )
        tx.alerts.resolve("source_stale:dqm", NOW)
        hold = tx.overrides.add(
            Override(
                PENDING,
                OverrideKind.HOLD,
                "alice",
                "checking gains by hand",
                NOW - timedelta(hours=1),
                NOW + timedelta(hours=5),
            )
        )
        old = tx.overrides.add(
            Override(
                PENDING,
                OverrideKind.FORCE_READY,
                "bob",
                "tried early",
                NOW - timedelta(hours=9),
                NOW - timedelta(hours=8),
            )
        )
        tx.audit.append(NOW, "alice", "override.hold", f"run:{PENDING}", {"id": hold.id})
        tx.audit.append(NOW, "bob", "override.force_ready", f"run:{PENDING}", {"id": old.id})


def seed_many(store: Store, count: int, first_run: int = 390000) -> None:
    """``count`` more runs, copies of the real assessments under new run numbers."""
    templates = list(assessments().values())
    with store.transaction() as tx:
        for offset in range(count):
            template = templates[offset % len(templates)]
            run = first_run + offset
            copy = dataclasses.replace(template, run=run)
            tx.states.save_run(copy, NOW)


class RecordingEngine:
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
    tokens: dict[Role, str] = field(default_factory=dict)

    def auth(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def switch_signals(self, enabled: bool, who: str = "carol", reason: str = "test") -> None:
        with self.store.transaction() as tx:
            tx.controls.set(SIGNALS_ENABLED, enabled, who, NOW, reason)


def make_world(where: Path | str, *, seeded: bool = True, **settings: Any) -> World:
    """``where``: a folder for a SQLite file, or a database URL (PostgreSQL)."""
    url = where if isinstance(where, str) else f"sqlite:///{where / 'pages.db'}"
    upgrade(url)
    store = Store(build_engine(url))
    clock = ManualClock(NOW)
    services = WebServices(
        store=store,
        clock=clock,
        settings=WebSettings(**settings),
        catalogue=load_catalogue(),
        policy=Policy(),
        engine=RecordingEngine(),
        version="test",
    )
    world = World(store, services, clock)
    if seeded:
        seed(store)
    for role in Role:
        world.tokens[role] = issue_token(store, f"{role.label}-bot", role, NOW)
    return world


def pages_app(services: WebServices) -> FastAPI:
    """Only the pages (and their static files), as ``create_app`` would wire them."""
    app = FastAPI()
    app.state.services = services
    app.state.cookie_secret = secret_for(services.settings)
    app.include_router(pages.router(services))
    app.mount("/static", StaticFiles(directory=pages.static_directory()), name="static")
    return app


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx2.AsyncClient]:
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


def text_between(html: str, start: str, end: str) -> str:
    head = html.index(start)
    return html[head : html.index(end, head)]


def rows_of(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('<tr id="run-')[1:]]


def all_runs() -> Iterable[int]:
    return sorted(stories())


async def fetch_page(world: World, url: str, status: int = 200, role: Role | None = None) -> str:
    """GET a page of the pages router as ``role`` (anonymous by default); check the status."""
    headers = world.auth(role) if role else {}
    async with client_for(pages_app(world.services)) as client:
        answer = await client.get(url, headers=headers)
    assert answer.status_code == status, answer.text[:500]
    return answer.text
