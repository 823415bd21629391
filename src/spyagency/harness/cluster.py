"""Several real engine processes on one database, for fail-over tests and benchmarks.

Each engine is ``python -m spyagency engine --config FILE`` in its own OS process, so killing
one with SIGKILL is a real crash: no ``finally`` runs, its sockets are closed by the kernel.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from spyagency.store.leader import Lease
from spyagency.store.uow import Store

PATIENCE_S = 60.0  # generous: only reached when something is broken


def wait_for(what: str, condition: Callable[[], bool], timeout: float = PATIENCE_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


def holder_pid(lease: Lease) -> int:
    """Holder names are host:pid:random (``engine/leadership.py``)."""
    return int(lease.holder.split(":")[1])


@dataclass
class EngineProcess:
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def campaigning(self) -> bool:
        """Started: it has campaigned once (the command prints this line after that)."""
        return "engine running" in self.log.read_text(errors="replace")


def _started(engine: EngineProcess) -> Callable[[], bool]:
    return lambda: engine.campaigning or not engine.alive


@dataclass
class EngineCluster:
    config: Path
    store: Store
    workdir: Path
    engines: list[EngineProcess] = field(default_factory=list)

    def start(self, count: int) -> None:
        """Start ``count`` engines and wait until each has campaigned (led or stood by)."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for _ in range(count):
            log = self.workdir / f"engine-{len(self.engines) + 1}.log"
            with log.open("wb") as sink:
                process = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
                    [sys.executable, "-m", "spyagency", "engine", "--config", str(self.config)],
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            self.engines.append(EngineProcess(process, log))
        for engine in self.engines[-count:]:
            wait_for(f"{engine.log.name} to start", _started(engine))

    def lease(self) -> Lease | None:
        with self.store.read() as tx:
            return tx.leader.current("engine")

    def leader(self) -> EngineProcess:
        """The live engine process that holds the lease (waits for one)."""

        def found() -> bool:
            lease = self.lease()
            return lease is not None and any(
                e.alive and e.pid == holder_pid(lease) for e in self.engines
            )

        wait_for("a leader", found)
        lease = self.lease()
        assert lease is not None
        return next(e for e in self.engines if e.pid == holder_pid(lease))

    def kill_leader(self) -> tuple[float, Lease, Lease]:
        """SIGKILL the leader; wait until another engine leads. Returns the seconds from the
        kill to the new lease, and the old and new leases."""
        leader = self.leader()
        before = self.lease()
        assert before is not None
        killed_at = time.monotonic()
        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(10)

        def taken_over() -> bool:
            lease = self.lease()
            return lease is not None and lease.epoch > before.epoch

        wait_for("a standby to take over", taken_over)
        took = time.monotonic() - killed_at
        after = self.lease()
        assert after is not None
        return took, before, after

    def stop(self) -> list[int]:
        """SIGTERM every live engine; their exit codes."""
        codes = []
        for engine in self.engines:
            if engine.alive:
                engine.process.send_signal(signal.SIGTERM)
        for engine in self.engines:
            try:
                codes.append(engine.process.wait(30))
            except subprocess.TimeoutExpired:
                engine.process.kill()
                codes.append(engine.process.wait(10))
        return codes

    def logs(self) -> str:
        return "\n".join(f"== {e.log.name}\n{e.log.read_text()}" for e in self.engines)
