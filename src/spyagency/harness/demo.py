"""The demo: a time-scaled simulated CMS and the agency watching it, with the web UI.

Both run on the wall clock sped up by the same factor (``clock.mode = "scaled"`` with the
simulator's origin), so every deadline on the pages matches the simulated world. Durations
that are about the agency's own polling (staleness) are scaled so that a source polled every
few wall seconds is not "stale" after a fraction of one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spyagency.bootstrap import build_runtime, serve
from spyagency.config import parse_settings
from spyagency.domain.states import Source
from spyagency.simulator import SimulatorServer, load_scenario


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def agency_document(
    sim: dict[str, Any], workdir: Path, web_port: int, speed: float, poll_seconds: float = 2.0
) -> dict[str, Any]:
    """An agency configuration watching the simulator described by ``sim``."""
    sources = {
        "tier0": {"url": sim["tier0_url"]},
        "oms": {"url": sim["oms_url"]},
        "harvest": {"path": sim["harvest_dir"]},
        "conddb": {"url": sim["conddb_url"]},
        "upload_log": {"url": sim["upload_logs_url"]},
        "dqm": {"url": sim["dqm_url"]},
        "wmstats": {"url": sim["wmstats_url"]},
    }
    for source in sources.values():
        source.update(poll_interval_seconds=poll_seconds, timeout_seconds=5.0, retries=1)
    # Ten poll intervals of silence, in simulated minutes, before a source counts as stale.
    stale_minutes = max(30.0, 10 * poll_seconds * speed / 60)
    return {
        "database": {"url": f"sqlite:///{workdir / 'agency.db'}"},
        "sources": {**sources, "prompt_global_tags": [sim["prompt_global_tag"]]},
        "policy": {"stale_after_minutes": {s.value: stale_minutes for s in Source}},
        "clock": {"mode": "scaled", **sim["clock"]},
        "signals": {
            "webhook_url": sim["tier0_readiness_webhook_url"],
            "webhook_secret": sim["readiness_secret"],
        },
        "web": {
            "host": "127.0.0.1",
            "port": web_port,
            "public_url": f"http://127.0.0.1:{web_port}",
            "open_read": True,
        },
        "engine": {"evaluate_interval_seconds": 1.0},
    }


async def run_demo(
    scenario: str,
    workdir: Path,
    *,
    speed: float,
    port: int = 0,
    announce: Callable[[str, dict[str, Any]], None] = lambda url, config: None,
    stop: asyncio.Event | None = None,
) -> None:
    web_port = port or free_port()
    plan = load_scenario(scenario)
    readiness = dataclasses.replace(
        plan.readiness,
        consume=True,
        webhook=True,
        poll_url=f"http://127.0.0.1:{web_port}/api/v1/readiness",
    )
    simulator = SimulatorServer(
        plan.replace(readiness=readiness), workdir / "simulator", speed=speed, port=0
    ).start()
    try:
        document = agency_document(simulator.agency_config(), workdir, web_port, speed)
        runtime = build_runtime(parse_settings(document))

        def ready(_server: object) -> None:
            announce(f"http://127.0.0.1:{web_port}/", document)

        await serve(runtime, engine=True, web=True, stop=stop, on_ready=ready)
    finally:
        simulator.stop()
