"""Dashboard latency and throughput against a trivial endpoint on the same server.

Seeds a SQLite store with about two simulated years of runs (3,000 by default; the newest 200
open, each expecting 16 workflows), serves the whole app with uvicorn in a child process, and
drives it with 20 concurrent clients (httpx2), a bounded number of requests per endpoint:

- the dashboard HTML with 200 runs (``/?limit=200``), warm (the usual case: the store has not
  changed since the last render) and cold (every request a view not rendered before);
- the JSON API ``/api/v1/runs?limit=200`` (as the dashboard: same store, warm);
- ``/healthz`` (no database), the baseline.

Prints p50/p99 latency and throughput of each, then for the JSON list and the dashboard the
p99 and the throughput as a fraction of the baseline's, each against its limit (the
dashboard's ratio last). Targets: p99 <= 50 ms at 20 clients, ratio >= 0.5.

Latency and throughput over loopback move with whatever else the machine runs; so the CPU
time of one request (client and app in one process, no server, least of three rounds) is
printed too, with the JSON list's as a fraction of the trivial endpoint's (``API_CPU_RATIO``):
the throughput ratio a CPU-bound server would reach, steady on a busy machine.

    .venv/bin/python bench/web_dashboard.py [--runs 3000] [--requests 2000] [--clients 20]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from _common import app_in_child

DAY = timedelta(days=1)
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FIRST_RUN = 370000
OPEN_RUNS = 200
EXPECTED_WORKFLOWS = 16
P99_LIMIT_MS = 50.0
RATIO_LIMIT = 0.5


def seed(url: str, total_runs: int) -> None:
    """Runs spread over two years, newest last; the newest ``OPEN_RUNS`` still open."""
    from spyagency.domain.catalogue import load_catalogue
    from spyagency.domain.evidence import Evidence
    from spyagency.domain.facts import ExpressConfig, RunInfo
    from spyagency.domain.health import SourceHealth
    from spyagency.domain.lifecycle import WorkflowAssessment
    from spyagency.domain.observation import Observation
    from spyagency.domain.states import Source, Verdict, WorkflowState
    from spyagency.domain.verdict import RunAssessment
    from spyagency.store import Store, build_engine, upgrade

    upgrade(url)
    store = Store(build_engine(url))
    names = load_catalogue().names()
    chooser = random.Random(2026)
    open_states = [
        WorkflowState.IN_DB,
        WorkflowState.IN_DB,
        WorkflowState.HARVESTING,
        WorkflowState.UPLOAD_ATTEMPTED,
        WorkflowState.NO_PAYLOAD,
        WorkflowState.WAITING_EXPRESS,
        WorkflowState.UPLOAD_FAILED,
    ]
    span = timedelta(days=730)
    batch: list[tuple[RunAssessment, list[Observation]]] = []

    def flush() -> None:
        with store.transaction() as tx:
            for assessment, observations in batch:
                tx.observations.add_many(observations)
                tx.states.save_run(assessment, NOW)
        batch.clear()

    for index in range(total_runs):
        run = FIRST_RUN + index
        stop = NOW - span + span * (index / total_runs)
        is_open = index >= total_runs - OPEN_RUNS
        expected = set(chooser.sample(names, EXPECTED_WORKFLOWS))
        workflows = []
        for name in names:
            if name not in expected:
                state = WorkflowState.NOT_EXPECTED
            else:
                state = chooser.choice(open_states) if is_open else WorkflowState.IN_DB
            evidence = (
                Evidence(Source.HARVEST, f"harvested {name}_pcl@uuid-{run}", stop + DAY / 8),
                Evidence(
                    Source.CONDDB,
                    f"tag {name}_prompt: IOV since {run} payload {run:040x}",
                    stop + DAY / 6,
                    ref=f"conddb:{name}_prompt:{run}",
                ),
            )
            workflows.append(
                WorkflowAssessment(
                    name,
                    state,
                    evidence,
                    counted=name in expected,
                    proven_at=stop + DAY / 6 if state is WorkflowState.IN_DB else None,
                    deadline=stop + timedelta(hours=18),
                    streams=("Express",),
                )
            )
        verdict = chooser.choice(list(Verdict)[:4]) if is_open else Verdict.RELEASED
        assessment = RunAssessment(
            run=run,
            verdict=verdict,
            automatic_verdict=verdict,
            reasons=(f"bench run {run}",),
            workflows=tuple(workflows),
            stop=stop,
            lock_in_at=stop + timedelta(hours=47.5),
            locked_at=None if is_open else stop + timedelta(hours=47.5),
            released_at=None if is_open else stop + timedelta(hours=chooser.uniform(8, 48)),
            proof_complete_at=stop + DAY / 6,
        )
        info = RunInfo(run, stop - timedelta(hours=2), stop, run_class="Collisions26")
        express = ExpressConfig(run, "Express", ("PromptCalibProd",), "GT", "Run2026A")
        observations = [
            Observation(Source.OMS, stop, info, "{}"),
            Observation(Source.TIER0, stop, express, "{}"),
        ]
        batch.append((assessment, observations))
        if len(batch) >= 200:
            flush()
    flush()
    with store.transaction() as tx:
        for source in Source:
            tx.health.record(SourceHealth(source, last_success=NOW, last_attempt=NOW))
    store.dispose()


def build_app(url: str) -> Any:
    """The whole app on the seeded store, as ``spyagency serve`` would build it."""
    from spyagency.config.settings import WebSettings
    from spyagency.domain.catalogue import load_catalogue
    from spyagency.domain.clock import ManualClock
    from spyagency.domain.policy import Policy
    from spyagency.store import Store, build_engine
    from spyagency.web.app import create_app
    from spyagency.web.services import WebServices

    services = WebServices(
        store=Store(build_engine(url)),
        clock=ManualClock(NOW),
        settings=WebSettings(),
        catalogue=load_catalogue(),
        policy=Policy(),
        version="bench",
    )
    return create_app(services)


def serve(url: str, port: int) -> None:
    """The child process: the app behind uvicorn."""
    import uvicorn

    uvicorn.run(build_app(url), host="127.0.0.1", port=port, log_level="warning")


async def cpu_per_request(url: str, paths: list[str], requests: int) -> dict[str, float]:
    """CPU seconds per request (client and app in this one process, no network), the least
    of three rounds: unlike latency, barely moved by other work on a shared machine."""
    app = build_app(url)
    transport = httpx2.ASGITransport(app=app)
    costs: dict[str, float] = {}
    async with httpx2.AsyncClient(transport=transport, base_url="http://bench") as client:
        for path in paths:
            (await client.get(path)).raise_for_status()
        for _round in range(3):
            for path in paths:
                started = time.process_time()
                for _ in range(requests):
                    await (await client.get(path)).aread()
                spent = (time.process_time() - started) / requests
                costs[path] = min(costs.get(path, spent), spent)
    return costs


@dataclass
class Figures:
    name: str
    latencies: list[float]
    seconds: float
    errors: int

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<22} n={len(self.latencies):5d} errors={self.errors} "
            f"p50={self.percentile(0.5):7.2f} ms  p99={self.percentile(0.99):7.2f} ms  "
            f"{self.throughput:8.1f} req/s"
        )


async def load(base: str, name: str, paths: list[str], clients: int) -> Figures:
    """``clients`` workers share the request list; each request is timed on its own."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)
    latencies: list[float] = []
    errors = 0
    limits = httpx2.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx2.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                path = queue.get_nowait()
                started = time.perf_counter()
                answer = await client.get(path)
                await answer.aread()
                latencies.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        seconds = time.perf_counter() - started
    return Figures(name, latencies, seconds, errors)


async def measure(base: str, requests: int, clients: int) -> list[Figures]:
    async with httpx2.AsyncClient(base_url=base, timeout=30) as client:
        for path in ("/healthz", "/?limit=200", "/api/v1/runs?limit=200"):
            (await client.get(path)).raise_for_status()  # warm-up: imports, caches, pools
    cold_paths = [f"/?limit={200 - (i % 150)}&era=Run2026A&verdict=" for i in range(150)]
    return [
        await load(base, "healthz", ["/healthz"] * requests, clients),
        await load(base, "dashboard (200 runs)", ["/?limit=200"] * requests, clients),
        await load(base, "api runs?limit=200", ["/api/v1/runs?limit=200"] * requests, clients),
        await load(base, "dashboard cold render", cold_paths, clients),
        await load(base, "healthz (again)", ["/healthz"] * requests, clients),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=20)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        started = time.perf_counter()
        seed(url, options.runs)
        print(f"seeded {options.runs} runs in {time.perf_counter() - started:.1f} s")
        with app_in_child(serve, url) as base:
            figures = asyncio.run(measure(base, options.requests, options.clients))
        paths = ["/healthz", "/?limit=200", "/api/v1/runs?limit=200"]
        cpu = asyncio.run(cpu_per_request(url, paths, max(100, options.requests // 4)))

    for item in figures:
        print(item.line())
    for path, seconds in cpu.items():
        print(f"cpu per request {path:<22} {seconds * 1e6:7.0f} us (client + app, in process)")
    print(
        f"API_CPU_RATIO {cpu['/healthz'] / cpu['/api/v1/runs?limit=200']:.3f} LIMIT {RATIO_LIMIT:g}"
    )
    baseline = statistics.mean([figures[0].throughput, figures[4].throughput])
    dashboard, api = figures[1], figures[2]
    print(f"API_P99_MS {api.percentile(0.99):.2f} LIMIT {P99_LIMIT_MS:g}")
    print(f"API_RATIO {api.throughput / baseline:.3f} LIMIT {RATIO_LIMIT:g}")
    print(f"P99_MS {dashboard.percentile(0.99):.2f} LIMIT {P99_LIMIT_MS:g}")
    print(f"RATIO {dashboard.throughput / baseline:.3f} LIMIT {RATIO_LIMIT:g}")


if __name__ == "__main__":
    main()
