"""/metrics speaks Prometheus' text format and reflects the store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx2
from prometheus_client.parser import text_string_to_metric_families

from spyagency.config.settings import WebSettings
from spyagency.domain.catalogue import load_catalogue
from spyagency.domain.clock import ManualClock
from spyagency.domain.health import SourceHealth
from spyagency.domain.policy import Policy
from spyagency.domain.states import Source
from spyagency.store.database import build_engine
from spyagency.store.migrations import upgrade
from spyagency.store.uow import Store
from spyagency.web.app import create_app
from spyagency.web.services import WebServices
from tests.domain.world import T0, Story, judge


async def test_metrics_count_runs_states_staleness_and_outbox(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'agency.db'}"
    upgrade(url)
    store = Store(build_engine(url))
    now = T0 + timedelta(hours=5)
    story = Story().ran(2).express("Express", "PromptCalibProdSiStripGains")
    with store.transaction() as tx:
        tx.states.save_run(judge(story, 5), now)
        tx.health.record(SourceHealth(Source.CONDDB, last_success=now - timedelta(minutes=7)))
        tx.outbox.enqueue("tier0_webhook", "signal", 380100, "k1", {"run": 380100}, now)
    services = WebServices(
        store=store,
        clock=ManualClock(now),
        settings=WebSettings(),
        catalogue=load_catalogue(),
        policy=Policy(),
    )
    app = create_app(services)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://t"
    ) as client:
        answer = await client.get("/metrics")
    store.dispose()
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }
    assert samples[("spyagency_runs", (("verdict", "pending"),))] == 1
    assert samples[("spyagency_runs", (("verdict", "ready"),))] == 0
    assert (
        samples[
            (
                "spyagency_open_workflows",
                (("state", "waiting_express"), ("workflow", "SiStripGains")),
            )
        ]
        == 1
    )
    assert samples[("spyagency_source_seconds_since_success", (("source", "conddb"),))] == 420
    assert samples[("spyagency_outbox_pending", ())] == 1
