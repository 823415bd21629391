"""The Tier-0 consumes the agency's readiness: webhook (HMAC, idempotency) and polling."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import uvicorn
from fastapi import FastAPI

from spyagency.simulator.readiness import sign
from spyagency.simulator.scenario import Scenario
from tests.simulator.conftest import LiveSim, start_live, without_faults

WEBHOOK = "/sim/tier0/readiness"


def signal(run: int, key: str) -> dict[str, object]:
    return {
        "run": run,
        "verdict": "ready",
        "idempotency_key": key,
        "decided_at": "2026-06-01T05:00:00Z",
        "evidence_url": f"http://agency/runs/{run}",
    }


def post_signal(
    sim: LiveSim, body: dict[str, object], secret: str | None = None
) -> httpx2.Response:
    raw = json.dumps(body).encode()
    secret = secret or sim.server.scenario.readiness.secret
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": str(body.get("idempotency_key", "")),
        "X-SpyAgency-Signature": sign(raw, secret),
    }
    return sim.client.post(WEBHOOK, content=raw, headers=headers)


def truth_of(sim: LiveSim, run: int) -> dict[str, object]:
    (row,) = sim.get("/sim/truth", run=run).json()["runs"]
    return row  # type: ignore[no-any-return]


def test_webhook_releases_the_lowest_unlocked_run_early(live: LiveSim) -> None:
    first, second = live.world.plan[0], live.world.plan[1]
    live.set_time(second.stop + 3600)
    # A signal for the second run alone changes nothing: the first run is still unlocked.
    assert post_signal(live, signal(second.number, "k2")).status_code == 200
    assert truth_of(live, second.number)["release_time"] is None
    answer = post_signal(live, signal(first.number, "k1"))
    assert answer.status_code == 200
    assert answer.json()["results"][0]["released_early"] is True
    for run in (first, second):
        row = truth_of(live, run.number)
        assert row["released"] == "early"
        assert row["lock_in_time"] == row["release_time"] == live.clock.now()
    fcsr = live.get("/t0wmadatasvc/prod/firstconditionsaferun").json()["result"][0]
    assert fcsr == live.world.plan[2].number
    rows = live.get("/t0wmadatasvc/prod/reco_config", run=first.number).json()["result"]
    assert rows, "PromptReco of the released run is configured"


def test_bad_signature_is_refused(live: LiveSim) -> None:
    run = live.world.plan[0]
    live.set_time(run.stop + 60)
    assert post_signal(live, signal(run.number, "k"), secret="wrong").status_code == 401
    raw = json.dumps(signal(run.number, "k")).encode()
    assert live.client.post(WEBHOOK, content=raw).status_code == 401
    assert truth_of(live, run.number)["release_time"] is None


def test_webhook_is_idempotent(live: LiveSim) -> None:
    run = live.world.plan[0]
    live.set_time(run.stop + 60)
    first = post_signal(live, signal(run.number, "same-key")).json()["results"][0]
    again = post_signal(live, signal(run.number, "same-key")).json()["results"][0]
    assert first["duplicate"] is False and again["duplicate"] is True
    assert again["released_early"] == first["released_early"] is True
    assert post_signal(live, {"run": "x"}).status_code == 400


def test_timer_fallback_without_signal(live: LiveSim) -> None:
    run = live.world.plan[0]
    live.set_time(run.stop + 48 * 3600 + 1)
    row = truth_of(live, run.number)
    assert row["released"] == "timer"
    assert row["lock_in_time"] == run.stop + 48 * 3600 - 1800
    assert row["release_time"] == run.stop + 48 * 3600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def fake_agency() -> Iterator[tuple[str, list[int]]]:
    """A tiny agency on loopback whose readiness API says the runs in `ready` are ready."""
    ready: list[int] = []
    app = FastAPI()

    @app.get("/api/v1/readiness")
    def readiness(after_run: int = 0) -> dict[str, object]:
        return {
            "api_version": "1",
            "generated_at": "2026-06-01T00:00:00Z",
            "signals": [signal(r, f"poll-{r}") for r in sorted(ready) if r > after_run],
        }

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}/api/v1/readiness", ready
    server.should_exit = True
    thread.join(timeout=5)


def test_tier0_polls_the_agency(
    quiet: Scenario, tmp_path: Path, fake_agency: tuple[str, list[int]]
) -> None:
    url, ready = fake_agency
    readiness = dataclasses.replace(quiet.readiness, poll_url=url, poll_interval_s=0.05)
    scenario = without_faults(quiet).replace(readiness=readiness)
    for sim in start_live(scenario, tmp_path):
        run = sim.world.plan[0]
        sim.set_time(run.stop + 600)
        ready.append(run.number)
        deadline = time.monotonic() + 10
        while truth_of(sim, run.number)["released"] is None and time.monotonic() < deadline:
            time.sleep(0.05)
        row = truth_of(sim, run.number)
        assert row["released"] == "early"
        assert row["ready_signal_via"] == "poll"


def test_poller_tolerates_an_agency_that_is_down(quiet: Scenario, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/api/v1/readiness"
    readiness = dataclasses.replace(quiet.readiness, poll_url=url, poll_interval_s=0.05)
    for sim in start_live(without_faults(quiet).replace(readiness=readiness), tmp_path):
        with httpx2.Client(timeout=1.0) as client:
            assert sim.server.poll_once(client) == 0
        sim.at_hours(60)
        assert truth_of(sim, sim.world.plan[0].number)["released"] == "timer"
