"""Soak: every simulator fault over days, at realistic and 10x rates (the month is slow),
replayed by the production engine loop in virtual time.

The agency may be late on such days; it may never crash, signal ready without proof, leave a
provable run unsignalled once its sources are back, or lose an observation or an alert.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spyagency.harness.soak import soak
from spyagency.simulator.faultkinds import HTTP_FAULTS, ITEM_FAULTS, WORLD_WINDOWS

EVERY_FAULT = set(HTTP_FAULTS) | set(ITEM_FAULTS) | set(WORLD_WINDOWS)


@pytest.mark.timeout(600)
def test_a_day_at_ten_times_the_fault_rates(tmp_path: Path) -> None:
    outcome = soak(1, 10.0, tmp_path)
    assert outcome.problems == []
    assert outcome.fault_kinds >= EVERY_FAULT, EVERY_FAULT - outcome.fault_kinds
    assert any(s.verdict.value == "ready" for s in outcome.result.signals)
    assert outcome.result.alerts_opened > 0, "a day of faults must raise alerts"


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("rate_factor", [1.0, 10.0])
def test_a_month_of_every_fault(tmp_path: Path, rate_factor: float) -> None:
    outcome = soak(30, rate_factor, tmp_path)
    assert outcome.problems == []
    assert outcome.fault_kinds >= EVERY_FAULT, EVERY_FAULT - outcome.fault_kinds
