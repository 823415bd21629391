"""Two real engine processes on one real PostgreSQL, watching a live simulator; the leader is
killed with SIGKILL while signals flow. The standby must take over, and every readiness signal
must reach the Tier-0 exactly under one key per (run, verdict): none lost, none duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Row, select

from spyagency.harness.demo import agency_document, free_port
from spyagency.harness.toml_text import to_toml
from spyagency.simulator import SimulatorServer
from spyagency.store import Store, build_engine, upgrade
from spyagency.store.leader import Lease
from spyagency.store.schema import outbox

pytestmark = pytest.mark.postgres

SPEED = 3600.0  # one simulated hour per second
HEARTBEAT_S = 0.5
POLL_S = 0.5
PATIENCE_S = 60.0  # generous: only reached when something is broken
UNDELIVERED = {"pending", "failed"}


@dataclass
class EngineProcess:
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def wait_for(what: str, condition: Callable[[], bool], timeout: float = PATIENCE_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def lease_of(store: Store) -> Lease | None:
    with store.read() as tx:
        return tx.leader.current("engine")


def holder_pid(lease: Lease) -> int:
    return int(lease.holder.split(":")[1])


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[SimulatorServer]:
    with SimulatorServer("quiet_day", tmp_path / "sim", speed=SPEED) as server:
        yield server


def start_engine(config: Path, log: Path) -> EngineProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "spyagency", "engine", "--config", str(config)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return EngineProcess(process, log)


def test_killing_the_leader_loses_and_duplicates_no_signal(
    simulator: SimulatorServer, postgres_database: str, tmp_path: Path
) -> None:
    upgrade(postgres_database)
    document = agency_document(
        simulator.agency_config(), tmp_path, free_port(), SPEED, poll_seconds=POLL_S
    )
    document["database"] = {"url": postgres_database}
    document["engine"] = {"evaluate_interval_seconds": POLL_S, "heartbeat_seconds": HEARTBEAT_S}
    config = tmp_path / "agency.toml"
    config.write_text(to_toml(document), encoding="utf-8")
    store = Store(build_engine(postgres_database))
    ledger = simulator.ledger
    assert ledger is not None
    engines = [start_engine(config, tmp_path / f"engine-{n}.log") for n in (1, 2)]
    try:
        wait_for("a leader", lambda: lease_of(store) is not None)

        def accepted() -> list[dict[str, object]]:
            return [e for e in ledger.entries() if e["status"] == 200]

        wait_for("the first readiness signals", lambda: len(accepted()) >= 2)
        first = lease_of(store)
        assert first is not None
        leader = next(e for e in engines if e.pid == holder_pid(first))
        standby = next(e for e in engines if e is not leader)
        before_kill = len(accepted())
        killed_at = time.monotonic()
        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait(10)

        def standby_leads() -> bool:
            lease = lease_of(store)
            return lease is not None and holder_pid(lease) == standby.pid

        wait_for("the standby to take over", standby_leads)
        takeover_s = time.monotonic() - killed_at
        second = lease_of(store)
        assert second is not None and second.epoch > first.epoch
        wait_for("signals after the take-over", lambda: len(accepted()) >= before_kill + 2)

        def outbox_drained() -> bool:
            return not any(row.status in UNDELIVERED for row in signal_rows(store))

        wait_for("every decided signal to be delivered", outbox_drained)
        standby.process.send_signal(signal.SIGTERM)
        assert standby.process.wait(30) == 0, standby.log.read_text()
        entries = accepted()
        rows = signal_rows(store)
    finally:
        for engine in engines:
            if engine.process.poll() is None:
                engine.process.kill()
                engine.process.wait(10)
        store.dispose()
    delivered = {(e["run"], e["verdict"], e["idempotency_key"]) for e in entries}
    sent = {
        (r.run, r.payload["verdict"], r.idempotency_key) for r in rows if r.status == "delivered"
    }
    assert sent and sent == delivered, "the Tier-0 got exactly what the store says was sent"
    lost = [r for r in rows if r.status != "delivered" and "superseded" not in (r.last_error or "")]
    assert not lost, f"signals never delivered: {lost}"
    keys_per_decision: dict[tuple[object, object], set[object]] = {}
    for run, verdict, key in delivered:
        keys_per_decision.setdefault((run, verdict), set()).add(key)
    assert all(len(keys) == 1 for keys in keys_per_decision.values()), keys_per_decision
    repeats = sum(1 for e in entries if e["repeat"])
    print(
        f"take-over {takeover_s:.2f} s after SIGKILL (heartbeat {HEARTBEAT_S} s); "
        f"{len(delivered)} signals delivered, {repeats} repeats under the same key"
    )


def signal_rows(store: Store) -> list[Row[Any]]:
    with store.read() as tx:
        query = select(outbox).where(outbox.c.kind == "signal").order_by(outbox.c.id)
        return list(tx.connection.execute(query).all())
