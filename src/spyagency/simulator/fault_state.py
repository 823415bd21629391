"""Live fault configuration: the scenario's rates and windows, changeable at run time through
``POST /sim/faults``, plus the record of every fault actually injected (ground truth)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

from spyagency.simulator.faultkinds import HTTP_FAULTS, SERVICES
from spyagency.simulator.records import InjectedFault
from spyagency.simulator.scenario import FaultSettings, FaultWindow, window_from_toml

# Requests faults are drawn from their own stream: the world's plan never depends on traffic.
HTTP_FAULT_SALT = 0x0BAD_C0DE
MAX_LOGGED_HTTP_FAULTS = 5000


class FaultState:
    def __init__(self, settings: FaultSettings, seed: int, scenario_start: float) -> None:
        self._guard = threading.Lock()
        self._rng = random.Random(seed ^ HTTP_FAULT_SALT)
        self.scenario_start = scenario_start
        self.http_rates = dict(settings.http_rates)
        self.service_rates = {s: dict(r) for s, r in settings.service_rates.items()}
        self.slow_delay_s = settings.slow_delay_s
        self.timeout_delay_s = settings.timeout_delay_s
        self.windows: list[FaultWindow] = list(settings.windows)
        self.injected: list[InjectedFault] = []
        self.counts: Counter[str] = Counter()

    def active_windows(self, t: float, kind: str | None = None) -> list[FaultWindow]:
        return [w for w in self.windows if w.covers(t) and (kind is None or w.kind == kind)]

    def window_end(self, t: float, kind: str) -> float | None:
        """End of the (chained) windows of ``kind`` covering t, or None when none covers it."""
        end: float | None = None
        moved = True
        while moved:
            moved = False
            for w in self.windows:
                probe = t if end is None else end
                if w.kind == kind and w.covers(probe):
                    end, moved = w.end, True
        return end

    def choose_http_fault(self, service: str, t: float) -> str | None:
        """A scripted window wins; otherwise draw from the rates of this service."""
        with self._guard:
            for w in self.windows:
                if w.kind in HTTP_FAULTS and w.service in (None, service) and w.covers(t):
                    return w.kind
            rates = {**self.http_rates, **self.service_rates.get(service, {})}
            for kind in HTTP_FAULTS:
                rate = rates.get(kind, 0.0)
                if rate > 0 and self._rng.random() < rate:
                    return kind
            return None

    def note(self, fault: InjectedFault) -> None:
        with self._guard:
            self.counts[fault.kind] += 1
            # Per-request faults can be countless in a long run: keep the first ones only.
            per_request = fault.service is not None and not fault.kind.startswith("window:")
            if not per_request or len(self.injected) < MAX_LOGGED_HTTP_FAULTS:
                self.injected.append(fault)

    def update(self, body: dict[str, Any]) -> list[FaultWindow]:
        """Apply a POST /sim/faults body; return the windows it added."""
        added: list[FaultWindow] = []
        with self._guard:
            for kind, rate in body.get("http_rates", {}).items():
                if kind not in HTTP_FAULTS:
                    raise ValueError(f"unknown fault kind {kind!r}")
                self.http_rates[kind] = float(rate)
            for service, rates in body.get("service_rates", {}).items():
                if service not in SERVICES:
                    raise ValueError(f"unknown service {service!r}")
                for kind, rate in rates.items():
                    if kind not in HTTP_FAULTS:
                        raise ValueError(f"unknown fault kind {kind!r}")
                    self.service_rates.setdefault(service, {})[kind] = float(rate)
            if "slow_delay_seconds" in body:
                self.slow_delay_s = float(body["slow_delay_seconds"])
            if "timeout_delay_seconds" in body:
                self.timeout_delay_s = float(body["timeout_delay_seconds"])
            if body.get("clear_windows"):
                self.windows.clear()
            for raw in body.get("windows", ()):
                window = window_from_toml(raw, self.scenario_start)
                self.windows.append(window)
                added.append(window)
        return added

    def to_json(self) -> dict[str, Any]:
        with self._guard:
            return {
                "http_rates": dict(self.http_rates),
                "service_rates": {s: dict(r) for s, r in self.service_rates.items()},
                "slow_delay_seconds": self.slow_delay_s,
                "timeout_delay_seconds": self.timeout_delay_s,
                "windows": [
                    {"kind": w.kind, "service": w.service, "start": w.start, "end": w.end}
                    for w in self.windows
                ],
                "counts": dict(self.counts),
            }
