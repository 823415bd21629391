"""Readiness rules as data: what a run needs, how long each step may take, what blocks it.

Defaults follow the production Tier-0 (docs/protocols.md, "The clock of a run"). The
configuration layer builds a ``Policy`` from TOML; the rules below only read it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from spyagency.domain.states import Source, WorkflowState

HOUR = timedelta(hours=1)

# Hours in a state after which the Tier-0 itself alarms (dmwm/T0 etc/SLSAlarmsConfig.py),
# mapped onto our states: Express Closed 3 h, Harvesting 6 h.
DEFAULT_STUCK_AFTER: Mapping[WorkflowState, timedelta] = {
    WorkflowState.WAITING_EXPRESS: 3 * HOUR,
    WorkflowState.HARVESTING: 6 * HOUR,
    WorkflowState.HARVESTED: 2 * HOUR,
    WorkflowState.UPLOAD_ATTEMPTED: 2 * HOUR,
}

DEFAULT_STALE_AFTER: Mapping[Source, timedelta] = {
    Source.TIER0: timedelta(minutes=20),
    Source.OMS: timedelta(minutes=30),
    Source.HARVEST: timedelta(minutes=20),
    Source.CONDDB: timedelta(minutes=20),
    Source.UPLOAD_LOG: timedelta(minutes=30),
    Source.DQM: timedelta(minutes=60),
    Source.WMSTATS: timedelta(minutes=30),
}

# A run cannot be judged ready while any of these is stale: they carry the proof.
DEFAULT_CRITICAL_SOURCES = frozenset({Source.TIER0, Source.OMS, Source.HARVEST, Source.CONDDB})


@dataclass(frozen=True)
class Group:
    """k-of-n: the run needs at least ``k`` of these workflows satisfied; the rest may lag."""

    name: str
    workflows: frozenset[str]
    k: int

    def __post_init__(self) -> None:
        if not 1 <= self.k <= len(self.workflows):
            raise ValueError(
                f"group {self.name}: k must be between 1 and {len(self.workflows)}, not {self.k}"
            )


@dataclass(frozen=True)
class Policy:
    """Every knob of the readiness rules."""

    reco_delay: timedelta = 48 * HOUR
    lock_in_offset: timedelta = timedelta(minutes=30)
    harvest_timeout: timedelta = 12 * HOUR
    upload_timeout: timedelta = 18 * HOUR
    deadline_lead: timedelta = 6 * HOUR
    stuck_after: Mapping[WorkflowState, timedelta] = field(
        default_factory=lambda: dict(DEFAULT_STUCK_AFTER)
    )
    stale_after: Mapping[Source, timedelta] = field(
        default_factory=lambda: dict(DEFAULT_STALE_AFTER)
    )
    critical_sources: frozenset[Source] = DEFAULT_CRITICAL_SOURCES
    optional_workflows: frozenset[str] = frozenset()
    disabled_workflows: frozenset[str] = frozenset()
    groups: tuple[Group, ...] = ()
    # Workflows whose DQM ERROR blocks the run (quality gate); "*" means all.
    quality_gate: frozenset[str] = frozenset({"*"})
    # Run classes (regular expressions) for which no calibration is required at all.
    exempt_run_classes: tuple[str, ...] = ()
    # Magnet field (tesla) at or above which the solenoid counts as on.
    magnet_on_above: float = 3.0

    def lock_in_delay(self) -> timedelta:
        return self.reco_delay - self.lock_in_offset

    def gated(self, workflow: str) -> bool:
        return "*" in self.quality_gate or workflow in self.quality_gate

    def exempt(self, run_class: str | None) -> bool:
        if run_class is None:
            return False
        return any(re.fullmatch(pattern, run_class) for pattern in self.exempt_run_classes)

    def group_of(self, workflow: str) -> Group | None:
        for group in self.groups:
            if workflow in group.workflows:
                return group
        return None
