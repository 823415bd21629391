"""Source load: requests per poll cycle against the number of open runs and the history length.

One simulated world (the quiet day's mix of runs, no injected faults, the Tier-0 releasing
runs on its 48 h timer) on a manual clock, served in-process over each source's real protocol,
watched by two agencies built as the engine builds them (``build_runtime``), each behind its
own counting HTTP transport:

- "long": polls from the first day, so it holds ``--long-days`` of closed runs;
- "short": starts ``--short-days`` before the end (on an empty store), so it holds only those.

Both poll every spy every ``--step`` of simulated time (coarse, to keep the replay quick), then
at the end ``--cycles`` cycles ten simulated minutes apart are counted: the same world, the
same moment, the same open runs, only the history differs. Requests and answer bytes are
counted per spy and per endpoint at the transport; the CondDB and harvest spies, which read a
database and a directory, report their own request counts.

Also prints, over the long agency's whole replay, requests per cycle by number of open runs.

Target: requests per cycle with the long history / with the short one about 1 (at most 1.1).

    .venv/bin/python bench/source_load.py [--long-days 90] [--short-days 7] [--step-hours 6]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2

from spyagency.bootstrap import Runtime, build_runtime
from spyagency.config.loading import parse_settings
from spyagency.domain.clock import ManualClock
from spyagency.engine.polling import poll_once
from spyagency.harness.replay import simulator_sources
from spyagency.simulator import ManualClock as SimClock
from spyagency.simulator import World, build_app, load_scenario
from spyagency.simulator.scenario import Scenario

HOUR = 3600.0
DAY = 24 * HOUR
RATIO_LIMIT = 1.1
RUN_NUMBER = re.compile(r"\d{6,}")


class CountingTransport(httpx2.AsyncBaseTransport):
    """Counts requests and answer bytes per endpoint (the last part of the path)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        endpoint = _endpoint(request.url.path)
        self.requests[endpoint] += 1
        self.bytes[endpoint] += len(body)
        return httpx2.Response(
            response.status_code, headers=response.headers, content=body, request=request
        )

    def reset(self) -> None:
        self.requests.clear()
        self.bytes.clear()


def _endpoint(path: str) -> str:
    """``/t0wmadatasvc/prod/express_config`` -> ``t0:express_config``."""
    prefixes = {
        "t0wmadatasvc": "tier0",
        "agg": "oms",
        "logs": "upload_log",
        "dqm": "dqm",
        "t0_reqmon": "wmstats",
    }
    parts = [part for part in path.split("/") if part]
    service = prefixes.get(parts[0], parts[0]) if parts else "?"
    if service == "dqm":  # .../data/json/archive/<run>/<dataset...>/<folder>: per run
        tail = "/".join(parts[2:4])
    elif service == "upload_log":
        tail = parts[2] if len(parts) > 2 else ""
    elif service == "wmstats" and len(parts) > 3:  # .../request/<request name>: per request
        tail = parts[2] + "/<request>"
    else:
        tail = parts[-1] if len(parts) > 1 else ""
    return f"{service}:{RUN_NUMBER.sub('<run>', tail)}"


def quiet_world(days: float, start: float) -> Scenario:
    base = load_scenario("quiet_day")
    return base.replace(
        name="source_load_bench",
        start=start,
        duration_s=days * DAY,
        readiness=replace(base.readiness, consume=False),
        faults=replace(base.faults, http_rates={}, service_rates={}, windows=()),
    )


@dataclass
class Watcher:
    """One agency and its counting transport."""

    name: str
    runtime: Runtime
    transport: CountingTransport
    clock: ManualClock
    # (open runs, HTTP requests, all requests as the spies report them) per cycle
    cycles: list[tuple[int, int, int]] = field(default_factory=list)
    # (when, answer bytes per endpoint, requests per endpoint) per cycle
    sizes: list[tuple[datetime, Counter[str], Counter[str]]] = field(default_factory=list)

    async def cycle(self, at: datetime) -> tuple[int, int, int, dict[str, int]]:
        self.clock.set(at)
        evaluator = self.runtime.agency.evaluator
        self.transport.reset()
        scope = evaluator.scope()
        reported: dict[str, int] = {}
        for schedule in self.runtime.agency.supervisor.schedules:
            report = await poll_once(schedule.spy, evaluator.scope(), 60.0, self.clock.now)
            reported[schedule.spy.source.value] = report.requests
            evaluator.ingest(report)
        evaluator.tick()
        self.sizes.append((at, Counter(self.transport.bytes), Counter(self.transport.requests)))
        http = sum(self.transport.requests.values())
        figures = (len(scope.runs), http, sum(reported.values()))
        self.cycles.append(figures)
        return (*figures, reported)

    async def aclose(self) -> None:
        await self.runtime.aclose()


def watcher(name: str, world: World, inner: httpx2.AsyncBaseTransport, folder: Path) -> Watcher:
    transport = CountingTransport(inner)
    sources = simulator_sources(world, http_timeout=5.0)
    sources["prompt_global_tags"] = [world.scenario.tier0.prompt_global_tag]
    settings = parse_settings(
        {"database": {"url": f"sqlite:///{folder / f'{name}.db'}"}, "sources": sources}
    )
    clock = ManualClock(datetime.fromtimestamp(world.scenario.start, UTC))
    runtime = build_runtime(settings, clock=clock, transport=transport)
    runtime.agency.evaluator.load()
    return Watcher(name, runtime, transport, clock)


@dataclass
class Final:
    """The counted cycles at the end, per agency."""

    open_runs: list[int] = field(default_factory=list)
    http: list[int] = field(default_factory=list)
    reported: list[int] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    bytes: Counter[str] = field(default_factory=Counter)
    history_runs: int = 0
    open_set: set[int] = field(default_factory=set)
    verdicts: dict[int, Any] = field(default_factory=dict)


async def replay(options: argparse.Namespace, folder: Path) -> tuple[Final, Final, Watcher]:
    days = options.long_days
    plan = quiet_world(days, datetime(2026, 3, 1, tzinfo=UTC).timestamp())
    world = World(plan, folder / "simulator")
    sim_clock = SimClock(plan.start)
    inner = httpx2.ASGITransport(app=build_app(world, sim_clock))
    end = plan.start + days * DAY
    short_from = end - options.short_days * DAY
    long = watcher("long", world, inner, folder)
    short: Watcher | None = None
    step = options.step_hours * HOUR
    t = plan.start
    began = time.perf_counter()
    try:
        while t < end:
            sim_clock.set(t)
            at = datetime.fromtimestamp(t, UTC)
            await long.cycle(at)
            if t >= short_from:
                short = short or watcher("short", world, inner, folder)
                await short.cycle(at)
            t += step
            if int((t - plan.start) / DAY) != int((t - step - plan.start) / DAY):
                day = int((t - plan.start) / DAY)
                if day % 10 == 0:
                    print(f"  day {day}: {len(long.cycles)} cycles", flush=True)
        assert short is not None
        finals = (Final(), Final())
        for index in range(options.cycles):
            moment = end + index * 600.0
            sim_clock.set(moment)
            for agency, final in zip((long, short), finals, strict=True):
                open_runs, http, reported, _ = await agency.cycle(
                    datetime.fromtimestamp(moment, UTC)
                )
                final.open_runs.append(open_runs)
                final.http.append(http)
                final.reported.append(reported)
                final.requests.update(agency.transport.requests)
                final.bytes.update(agency.transport.bytes)
        for agency, final in zip((long, short), finals, strict=True):
            final.history_runs = len(agency.runtime.agency.evaluator.verdicts)
            final.open_set = set(agency.runtime.agency.evaluator.scope().open_runs)
            final.verdicts = dict(agency.runtime.agency.evaluator.verdicts)
    finally:
        await long.aclose()
        if short is not None:
            await short.aclose()
    print(f"replayed {days:g} simulated days in {time.perf_counter() - began:.0f} s")
    return finals[0], finals[1], long


def by_open_runs(cycles: list[tuple[int, int, int]]) -> list[str]:
    """Median requests per cycle for each number of open runs (skipping the first day)."""
    groups: dict[int, list[tuple[int, int]]] = {}
    for open_runs, http, reported in cycles[12:]:
        groups.setdefault(open_runs, []).append((http, reported))
    lines = ["open runs | cycles | HTTP requests/cycle (median) | all requests/cycle (median)"]
    for open_runs in sorted(groups):
        rows = groups[open_runs]
        http = statistics.median(r[0] for r in rows)
        reported = statistics.median(r[1] for r in rows)
        lines.append(f"{open_runs:9d} | {len(rows):6d} | {http:28.1f} | {reported:27.1f}")
    return lines


def growing_answers(watcher: Watcher, first_days: float) -> list[str]:
    """Endpoints whose answers (bytes per request) grew between the first days of the world
    and its last days: the upstream's own history shows through them."""
    start, end = watcher.sizes[0][0], watcher.sizes[-1][0]
    early = [s for s in watcher.sizes if (s[0] - start).total_seconds() <= first_days * DAY]
    late = [s for s in watcher.sizes if (end - s[0]).total_seconds() <= first_days * DAY]

    def per_request(cycles: list[tuple[datetime, Counter[str], Counter[str]]]) -> Counter[str]:
        sizes: Counter[str] = Counter()
        counts: Counter[str] = Counter()
        for _, answer_bytes, requests in cycles:
            sizes.update(answer_bytes)
            counts.update(requests)
        return Counter({k: sizes[k] // counts[k] for k in counts if counts[k]})

    before, after = per_request(early), per_request(late)
    lines = []
    for endpoint in sorted(after):
        if before.get(endpoint) and after[endpoint] > 1.5 * before[endpoint]:
            lines.append(
                f"{endpoint:<28} {before[endpoint]:>10} B/request in the first "
                f"{first_days:g} days -> {after[endpoint]:>10} B/request in the last"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long-days", type=float, default=90.0)
    parser.add_argument("--short-days", type=float, default=7.0)
    parser.add_argument("--step-hours", type=float, default=6.0)
    parser.add_argument("--cycles", type=int, default=6)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        long, short, watcher_long = asyncio.run(replay(options, Path(folder)))

    print("\nrequests per cycle by number of open runs (long agency, whole replay):")
    for line in by_open_runs(watcher_long.cycles):
        print("  " + line)

    print("\nanswers that grow with the upstream's own history (same for both agencies):")
    for line in growing_answers(watcher_long, options.short_days) or ["(none)"]:
        print("  " + line)

    cycles = options.cycles
    print(f"\nat the end, {cycles} cycles counted, per cycle:")
    print(
        f"{'endpoint':<34} {'long req':>9} {'short req':>9} {'long bytes':>11} {'short bytes':>11}"
    )
    for endpoint in sorted(long.requests.keys() | short.requests.keys()):
        print(
            f"{endpoint:<34} {long.requests[endpoint] / cycles:9.1f} "
            f"{short.requests[endpoint] / cycles:9.1f} {long.bytes[endpoint] / cycles:11.0f} "
            f"{short.bytes[endpoint] / cycles:11.0f}"
        )
    summary: list[tuple[str, float, float]] = [
        ("open runs", statistics.mean(long.open_runs), statistics.mean(short.open_runs)),
        ("runs in history", long.history_runs, short.history_runs),
        ("HTTP requests/cycle", statistics.mean(long.http), statistics.mean(short.http)),
        ("all requests/cycle", statistics.mean(long.reported), statistics.mean(short.reported)),
        (
            "answer bytes/cycle",
            sum(long.bytes.values()) / cycles,
            sum(short.bytes.values()) / cycles,
        ),
    ]
    for name, long_value, short_value in summary:
        print(f"{name:<22} long {long_value:10.1f}   short {short_value:10.1f}")
    for run in sorted(long.open_set ^ short.open_set):
        print(
            f"open for one agency only: run {run}", long.verdicts.get(run), short.verdicts.get(run)
        )
    ratio = statistics.mean(long.reported) / statistics.mean(short.reported)
    bytes_ratio = summary[4][1] / max(1.0, summary[4][2])
    print(f"BYTES_RATIO {bytes_ratio:.3f} (answer bytes per cycle, long / short history)")
    print(f"RATIO {ratio:.3f} LIMIT {RATIO_LIMIT:g} (requests per cycle, long / short history)")


if __name__ == "__main__":
    main()
