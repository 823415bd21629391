"""The signal rate limit counts the engine's time: a replay's simulated minutes refill it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from spyagency.bootstrap import build_runtime
from spyagency.config.loading import parse_settings
from spyagency.domain.clock import ManualClock


async def test_the_signal_rate_refills_on_the_engine_clock(tmp_path: Path) -> None:
    settings = parse_settings(
        {
            "database": {"url": f"sqlite:///{tmp_path / 'agency.db'}"},
            "signals": {"max_per_minute": 6},
        }
    )
    clock = ManualClock(datetime(2026, 6, 1, tzinfo=UTC))
    runtime = build_runtime(settings, clock=clock)
    try:
        bucket = runtime.agency.dispatcher.signal_rate
        assert bucket is not None
        while bucket.try_acquire():
            pass  # the burst, spent at one instant
        assert not bucket.try_acquire()
        clock.advance(timedelta(seconds=10))  # no machine time passes: only the engine's
        assert bucket.try_acquire()
        assert not bucket.try_acquire()
    finally:
        await runtime.aclose()
