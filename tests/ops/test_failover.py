"""Two real engine processes on one real PostgreSQL, watching a live simulator; the leader is
killed with SIGKILL while signals flow. The standby must take over, and every readiness signal
must reach the Tier-0 exactly under one key per (run, verdict): none lost, none duplicated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Row, select

from spyagency.harness.cluster import EngineCluster, wait_for
from spyagency.harness.demo import agency_document, free_port
from spyagency.harness.toml_text import to_toml
from spyagency.simulator import SimulatorServer
from spyagency.store import Store, build_engine, upgrade
from spyagency.store.schema import outbox

pytestmark = pytest.mark.postgres

SPEED = 3600.0  # one simulated hour per second
HEARTBEAT_S = 0.5
POLL_S = 0.5
UNDELIVERED = {"pending", "failed"}


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[SimulatorServer]:
    with SimulatorServer("quiet_day", tmp_path / "sim", speed=SPEED) as server:
        yield server


def signal_rows(store: Store) -> list[Row[Any]]:
    with store.read() as tx:
        query = select(outbox).where(outbox.c.kind == "signal").order_by(outbox.c.id)
        return list(tx.connection.execute(query).all())


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

    def accepted() -> list[dict[str, Any]]:
        return [e for e in ledger.entries() if e["status"] == 200]

    cluster = EngineCluster(config, store, tmp_path)
    cluster.start(2)
    try:
        wait_for("the first readiness signals", lambda: len(accepted()) >= 2)
        before_kill = len(accepted())
        took, first, second = cluster.kill_leader()
        assert second.epoch > first.epoch and second.holder != first.holder
        survivor = cluster.leader()
        wait_for("signals after the take-over", lambda: len(accepted()) >= before_kill + 2)
        wait_for(
            "every decided signal to be delivered",
            lambda: not any(row.status in UNDELIVERED for row in signal_rows(store)),
        )
        cluster.stop()
        assert survivor.process.returncode == 0, cluster.logs()
        entries = accepted()
        rows = signal_rows(store)
    finally:
        cluster.stop()
        store.dispose()
    delivered = {(e["run"], e["verdict"], e["idempotency_key"]) for e in entries}
    sent = {
        (r.run, r.payload["verdict"], r.idempotency_key) for r in rows if r.status == "delivered"
    }
    assert sent and sent == delivered, "the Tier-0 got exactly what the store says was sent"
    lost = [r for r in rows if r.status != "delivered" and "superseded" not in (r.last_error or "")]
    assert not lost, f"signals never delivered: {lost}"
    keys_per_decision: dict[tuple[Any, Any], set[Any]] = {}
    for run, verdict, key in delivered:
        keys_per_decision.setdefault((run, verdict), set()).add(key)
    assert all(len(keys) == 1 for keys in keys_per_decision.values()), keys_per_decision
    repeats = sum(1 for e in entries if e["repeat"])
    print(
        f"take-over {took:.2f} s after SIGKILL (heartbeat {HEARTBEAT_S} s); "
        f"{len(delivered)} signals delivered, {repeats} repeats under the same key"
    )
