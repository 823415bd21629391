"""A seeded, time-scaled fake CMS world for testing the agency (see docs/simulator.md).

Public API::

    from spyagency.simulator import load_scenario, World, build_app, SimulatorServer
    from spyagency.simulator import ManualClock, ScaledClock

Nothing is built at import time; the names below are re-exported lazily so that importing the
package stays cheap (no FastAPI/uvicorn import until they are used).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spyagency.simulator.app import build_app
    from spyagency.simulator.clock import ManualClock, ScaledClock, SimClock
    from spyagency.simulator.scenario import Scenario, load_scenario
    from spyagency.simulator.server import SimulatorServer
    from spyagency.simulator.world import World

_EXPORTS = {
    "build_app": "spyagency.simulator.app",
    "ManualClock": "spyagency.simulator.clock",
    "ScaledClock": "spyagency.simulator.clock",
    "SimClock": "spyagency.simulator.clock",
    "Scenario": "spyagency.simulator.scenario",
    "load_scenario": "spyagency.simulator.scenario",
    "SimulatorServer": "spyagency.simulator.server",
    "World": "spyagency.simulator.world",
}

__all__ = [
    "ManualClock",
    "ScaledClock",
    "Scenario",
    "SimClock",
    "SimulatorServer",
    "World",
    "build_app",
    "load_scenario",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'spyagency.simulator' has no attribute {name!r}")
