"""Scenarios: everything that shapes a simulated world, read from TOML.

A scenario is pure data. ``load_scenario("quiet_day")`` reads the packaged file
``scenarios/quiet_day.toml``; any other argument is taken as a path.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from spyagency.simulator.faultkinds import (
    HTTP_FAULTS,
    ITEM_FAULTS,
    SERVICES,
    WINDOW_FAULTS,
)
from spyagency.simulator.spread import Spread
from spyagency.simulator.timefmt import parse_iso

HOUR = 3600.0
MINUTE = 60.0


@dataclass(frozen=True)
class RunMix:
    runs_per_fill_min: int
    runs_per_fill_max: int
    run_minutes: Spread
    gap_between_runs_minutes: Spread
    interfill_hours: Spread
    cosmics_probability: float  # chance that an inter-fill period holds cosmics runs
    cosmics_runs_max: int
    no_express_fraction: float  # short runs that never deliver Express data
    short_run_minutes: Spread


@dataclass(frozen=True)
class Timing:
    express_done_after_end_minutes: Spread
    harvest_after_express_minutes: Spread
    upload_after_harvest_minutes: Spread
    upload_tail_fraction: float  # uploads that come very late (past the 12 h / 18 h timeouts)
    upload_tail_hours: Spread  # after run end
    upload_processing_seconds: Spread
    reco_done_after_release_hours: Spread


@dataclass(frozen=True)
class Outcomes:
    no_payload_rate: float  # low statistics: the harvest writes nothing
    # An alignment declines its own update: no payload by design. A veto where its DQM
    # has the bin (``veto_bin``), else a plain no-payload harvest.
    alignment_veto_rate: float
    harvest_failure_rate: float  # per (run, stream) harvest job
    upload_error_rate: float
    dqm_warning_rate: float
    dqm_error_rate: float


@dataclass(frozen=True)
class Tier0Settings:
    reco_delay_s: float
    reco_delay_offset_s: float
    acq_era: str
    cmssw: str
    scram_arch: str
    express_global_tag: str
    prompt_global_tag: str


@dataclass(frozen=True)
class ReadinessSettings:
    consume: bool  # does the simulated Tier-0 act on the agency's readiness at all
    poll_url: str  # the agency's GET .../api/v1/readiness; empty: no polling
    poll_interval_s: float  # wall seconds between polls
    webhook: bool  # accept POST /sim/tier0/readiness
    secret: str  # HMAC-SHA256 shared secret of the webhook


@dataclass(frozen=True)
class FaultWindow:
    kind: str
    service: str | None  # None: every service (HTTP kinds) or the world (world kinds)
    start: float  # simulated Unix seconds
    end: float

    def covers(self, t: float) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True)
class FaultSettings:
    http_rates: dict[str, float] = field(default_factory=dict)
    service_rates: dict[str, dict[str, float]] = field(default_factory=dict)
    slow_delay_s: float = 3.0  # wall seconds added by a "slow" answer
    timeout_delay_s: float = 65.0  # wall seconds a "timeout" answer hangs
    item_rates: dict[str, float] = field(default_factory=dict)
    ensure_items: tuple[str, ...] = ()  # item faults forced to happen at least once
    windows: tuple[FaultWindow, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    seed: int
    start: float
    duration_s: float
    first_run: int
    runs: RunMix
    timing: Timing
    outcomes: Outcomes
    tier0: Tier0Settings
    readiness: ReadinessSettings
    faults: FaultSettings

    @property
    def end(self) -> float:
        return self.start + self.duration_s

    def replace(self, **changes: Any) -> Scenario:
        return dataclasses.replace(self, **changes)


def _spreads(raw: dict[str, Any], cls: type[Any]) -> dict[str, Any]:
    """Turn the TOML tables of a section into Spreads where the dataclass wants one."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        value = raw[f.name]
        values[f.name] = Spread.from_toml(value) if isinstance(value, dict) else value
    return values


def _check_kinds(rates: dict[str, float], allowed: tuple[str, ...], where: str) -> None:
    unknown = set(rates) - set(allowed)
    if unknown:
        raise ValueError(f"unknown fault kinds in {where}: {sorted(unknown)}")


def _faults(raw: dict[str, Any], start: float) -> FaultSettings:
    http_rates = {k: float(v) for k, v in raw.get("http_rates", {}).items()}
    _check_kinds(http_rates, HTTP_FAULTS, "faults.http_rates")
    service_rates: dict[str, dict[str, float]] = {}
    for service, rates in raw.get("service_rates", {}).items():
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}")
        service_rates[service] = {k: float(v) for k, v in rates.items()}
        _check_kinds(service_rates[service], HTTP_FAULTS, f"faults.service_rates.{service}")
    item_rates = {k: float(v) for k, v in raw.get("item_rates", {}).items()}
    _check_kinds(item_rates, ITEM_FAULTS, "faults.item_rates")
    ensure = tuple(raw.get("ensure_items", ()))
    _check_kinds(dict.fromkeys(ensure, 0.0), ITEM_FAULTS, "faults.ensure_items")
    windows = tuple(window_from_toml(w, start) for w in raw.get("windows", ()))
    return FaultSettings(
        http_rates=http_rates,
        service_rates=service_rates,
        slow_delay_s=float(raw.get("slow_delay_seconds", 3.0)),
        timeout_delay_s=float(raw.get("timeout_delay_seconds", 65.0)),
        item_rates=item_rates,
        ensure_items=ensure,
        windows=windows,
    )


def window_from_toml(raw: dict[str, Any], start: float) -> FaultWindow:
    """A window is given relative to the scenario start (hours) or absolutely (ISO times)."""
    kind = raw["kind"]
    if kind not in WINDOW_FAULTS:
        raise ValueError(f"unknown fault window kind {kind!r}")
    service = raw.get("service")
    if service is not None and service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    if "start" in raw:
        begin = parse_iso(str(raw["start"]))
        end = parse_iso(str(raw["end"]))
    else:
        begin = start + float(raw["start_hours"]) * HOUR
        end = begin + float(raw["duration_hours"]) * HOUR
    return FaultWindow(kind=kind, service=service, start=begin, end=end)


def scenario_from_dict(raw: dict[str, Any]) -> Scenario:
    start = parse_iso(str(raw["start"]))
    tier0 = raw["tier0"]
    readiness = raw.get("readiness", {})
    return Scenario(
        name=raw["name"],
        description=raw.get("description", ""),
        seed=int(raw["seed"]),
        start=start,
        duration_s=float(raw["duration_hours"]) * HOUR,
        first_run=int(raw.get("first_run", 380000)),
        runs=RunMix(**_spreads(raw["runs"], RunMix)),
        timing=Timing(**_spreads(raw["timing"], Timing)),
        outcomes=Outcomes(**raw["outcomes"]),
        tier0=Tier0Settings(
            reco_delay_s=float(tier0["reco_delay_hours"]) * HOUR,
            reco_delay_offset_s=float(tier0["reco_delay_offset_minutes"]) * MINUTE,
            acq_era=tier0["acq_era"],
            cmssw=tier0["cmssw"],
            scram_arch=tier0["scram_arch"],
            express_global_tag=tier0["express_global_tag"],
            prompt_global_tag=tier0["prompt_global_tag"],
        ),
        readiness=ReadinessSettings(
            consume=bool(readiness.get("consume", False)),
            poll_url=str(readiness.get("poll_url", "")),
            poll_interval_s=float(readiness.get("poll_interval_seconds", 5.0)),
            webhook=bool(readiness.get("webhook", True)),
            secret=str(readiness.get("secret", "spy-agency-dev-secret")),
        ),
        faults=_faults(raw.get("faults", {}), start),
    )


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a packaged scenario by name (``quiet_day``) or a TOML file by path."""
    text: str
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        text = candidate.read_text(encoding="utf-8")
    else:
        packaged = (
            resources.files(__package__).joinpath("scenarios").joinpath(f"{name_or_path}.toml")
        )
        if not packaged.is_file():
            raise FileNotFoundError(f"no scenario named {name_or_path!r}")
        text = packaged.read_text(encoding="utf-8")
    return scenario_from_dict(tomllib.loads(text))


def packaged_scenarios() -> list[str]:
    folder = resources.files(__package__).joinpath("scenarios")
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )
