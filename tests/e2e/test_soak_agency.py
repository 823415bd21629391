"""The soak through the production engine loop: the bad day's every fault at 10x rates, one
day, replayed by the unchanged ``Agency`` in virtual time (``harness/agency_replay.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spyagency.harness.soak import soak_in_agency
from spyagency.simulator.faultkinds import HTTP_FAULTS, ITEM_FAULTS, WORLD_WINDOWS

EVERY_FAULT = set(HTTP_FAULTS) | set(ITEM_FAULTS) | set(WORLD_WINDOWS)


@pytest.mark.timeout(600)
def test_a_day_of_every_fault_at_ten_times_its_rate_through_the_production_loop(
    tmp_path: Path,
) -> None:
    outcome = soak_in_agency(1, 10.0, tmp_path)
    assert outcome.problems == []
    assert outcome.fault_kinds >= EVERY_FAULT, EVERY_FAULT - outcome.fault_kinds
    assert any(s.verdict.value == "ready" for s in outcome.result.signals)
    assert outcome.result.alerts_opened > 0, "a day of faults must raise alerts"
