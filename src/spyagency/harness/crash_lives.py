"""The crash driver's lives: when to kill it, and how to follow and kill it at that moment.

A kill plan is drawn from a seed: so many SIGKILLs spread over a trial's steps, some of them
aimed at a driver still starting up (migrations, store load). ``run_lives`` starts the driver as
a child process, reads its progress lines ("ready", "step <time>") to find each planned moment,
kills it there and starts it again, until a life ends by itself. ``LifeLog`` keeps count of what
happened to the lives for the report.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import spyagency

SRC_DIR = Path(spyagency.__file__).resolve().parents[1]
LIFE_TIMEOUT_S = 900.0
STARTUP_KILL_SHARE = 0.2  # share of kills aimed at a starting engine (migrations, store load)


# --- the plan --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kill:
    """Kill when the driver has begun step ``step`` (or, ``at_startup``, while it starts),
    ``fraction`` of a typical step (or start-up) later."""

    step: int
    fraction: float
    at_startup: bool = False


def kill_plan(kills: int, steps: int, seed: int) -> list[Kill]:
    """``kills`` kills spread uniformly over ``steps`` steps, in order; reproducible by seed."""
    rng = random.Random(seed)
    targets = sorted(rng.randrange(max(1, steps)) for _ in range(kills))
    return [Kill(t, rng.random(), rng.random() < STARTUP_KILL_SHARE) for t in targets]


# --- child processes ------------------------------------------------------------------------


def child_environment() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(SRC_DIR), path) if p)}


# --- engine lives ----------------------------------------------------------------------------


@dataclass
class LifeLog:
    """What the parent saw of the driver's lives."""

    lives: int = 0
    kills: int = 0
    kills_at_startup: int = 0
    self_kills: int = 0  # lives that killed themselves right after a delivery
    step_seconds: float = 0.3  # running estimate of one step's wall time
    startup_seconds: float = 1.5  # running estimate of start-up until "ready"
    killed_at_steps: list[int] = field(default_factory=list)


class DriverLife:
    """One driver process, its stdout read line by line by a thread."""

    def __init__(self, command: list[str], stderr: IO[str]) -> None:
        self.began = time.monotonic()
        self.process = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
            command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=child_environment()
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def next_line(self) -> str | None:
        """The next line; None when the driver's output ended (it exited or was killed)."""
        return self.lines.get(timeout=LIFE_TIMEOUT_S)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._close()

    def finish(self) -> int:
        while self.next_line() is not None:
            pass
        code = self.process.wait(timeout=LIFE_TIMEOUT_S)
        self._close()
        return code

    def _close(self) -> None:
        self._pump_thread.join(timeout=LIFE_TIMEOUT_S)
        assert self.process.stdout is not None
        self.process.stdout.close()


def live_until_killed(
    life: DriverLife, kill: Kill, start: float, step_s: float, log: LifeLog
) -> bool:
    """Follow ``life`` and kill it as ``kill`` says; False if it finished first."""
    if kill.at_startup:
        time.sleep(kill.fraction * log.startup_seconds)
        if life.process.poll() is not None:
            return False
        life.kill()
        log.kills_at_startup += 1
        return True
    last_step_at: float | None = None
    while (line := life.next_line()) is not None:
        now = time.monotonic()
        if line == "ready":
            log.startup_seconds = 0.5 * log.startup_seconds + 0.5 * (now - life.began)
        if not line.startswith("step "):
            continue
        if last_step_at is not None:
            log.step_seconds = 0.8 * log.step_seconds + 0.2 * (now - last_step_at)
        last_step_at = now
        index = round((float(line.split()[1]) - start) / step_s)
        if index >= kill.step:
            time.sleep(kill.fraction * log.step_seconds)
            life.kill()
            log.killed_at_steps.append(index)
            return True
    return False


def run_lives(
    command: list[str],
    plan: Iterable[Kill],
    start: float,
    step_s: float,
    stderr: IO[str],
    self_killing: list[str] | None = None,
) -> LifeLog:
    """Start the driver, kill it as planned, restart it; return once it finished by itself.
    ``self_killing``: a first life's command that ends in its own kill."""
    log = LifeLog()
    if self_killing is not None:
        # This life dies right after a delivery, before the outbox records it.
        code = DriverLife(self_killing, stderr).finish()
        log.lives += 1
        if code != -signal.SIGKILL:
            raise RuntimeError(f"the self-killing driver ended with {code}, not by its own kill")
        log.self_kills += 1
    kills = iter(plan)
    while True:
        life = DriverLife(command, stderr)
        log.lives += 1
        kill = next(kills, None)
        if kill is not None and live_until_killed(life, kill, start, step_s, log):
            log.kills += 1
            continue
        code = life.finish()
        if code != 0:
            raise RuntimeError(f"the crash driver failed (exit {code}); see its log")
        return log
