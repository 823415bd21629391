"""The engine's own /metrics endpoint, served by a real engine process loop (no sources)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2

from spyagency.bootstrap import build_runtime
from spyagency.config.loading import parse_settings
from spyagency.harness.demo import free_port
from spyagency.serving import serve


async def test_a_leading_engine_exposes_leadership_and_evaluation_metrics(tmp_path: Path) -> None:
    port = free_port()
    settings = parse_settings(
        {
            "database": {"url": f"sqlite:///{tmp_path / 'agency.db'}"},
            "engine": {
                "metrics_port": port,
                "heartbeat_seconds": 0.1,
                "evaluate_interval_seconds": 0.05,
            },
        }
    )
    runtime = build_runtime(settings)
    stop = asyncio.Event()
    running = asyncio.create_task(serve(runtime, engine=True, web=False, stop=stop))
    try:
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(200):
                try:
                    body = (await client.get("/metrics")).text
                except httpx2.TransportError:
                    body = ""
                if 'spyagency_evaluation_seconds_count{kind="tick"}' in body:
                    break
                await asyncio.sleep(0.05)
        assert "spyagency_engine_leader 1.0" in body
        assert "spyagency_engine_leader_epoch 1.0" in body
        assert 'spyagency_evaluation_seconds_count{kind="tick"}' in body
        assert "spyagency_poll_seconds" in body  # described even before a first poll
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
    with runtime.store.read() as tx:
        lease = tx.leader.current("engine")
    assert lease is not None and lease.epoch == 1, "a clean stop releases, keeping the epoch"
