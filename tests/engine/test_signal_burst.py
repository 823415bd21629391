"""``signals.burst``: how many signals leave at one instant before the rate paces them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from spyagency.bootstrap import build_runtime
from spyagency.config.loading import ConfigError, parse_settings
from spyagency.domain.clock import ManualClock


async def test_the_configured_burst_is_what_leaves_at_one_instant(tmp_path: Path) -> None:
    settings = parse_settings(
        {
            "database": {"url": f"sqlite:///{tmp_path / 'agency.db'}"},
            "signals": {"max_per_minute": 6, "burst": 3},
        }
    )
    runtime = build_runtime(settings, clock=ManualClock(datetime(2026, 6, 1, tzinfo=UTC)))
    try:
        bucket = runtime.agency.dispatcher.signal_rate
        assert bucket is not None
        sent = 0
        while bucket.try_acquire():
            sent += 1
        assert sent == 3
    finally:
        await runtime.aclose()


@pytest.mark.parametrize("burst", [0, 1001])
def test_a_burst_out_of_bounds_is_refused(burst: int) -> None:
    with pytest.raises(ConfigError, match=r"signals\.burst"):
        parse_settings({"signals": {"burst": burst}})
