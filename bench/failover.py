"""Engine fail-over time on PostgreSQL: SIGKILL the leader, time until a standby leads.

Starts engine processes (no sources: leadership does not depend on them) on a fresh database,
kills the leader ``--kills`` times (starting a new standby after each kill), and prints the
median and worst take-over time against the promise "within two heartbeats".

    SPYAGENCY_TEST_POSTGRES_URL=postgresql+psycopg://... .venv/bin/python bench/failover.py \
        [--kills 10] [--heartbeat 1.0]

Last line: ``RATIO worst / (2 x heartbeat)`` (target <= 1).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from spyagency.harness.cluster import EngineCluster
from spyagency.harness.toml_text import to_toml
from spyagency.store import Store, build_engine, upgrade


def fresh_database(server_url: str) -> str:
    name = f"spyagency_failover_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--heartbeat", type=float, default=1.0)
    parser.add_argument("--postgres", default=os.environ.get("SPYAGENCY_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    if not args.postgres:
        parser.error("needs --postgres URL or SPYAGENCY_TEST_POSTGRES_URL")
    url = fresh_database(args.postgres)
    upgrade(url)
    with tempfile.TemporaryDirectory(prefix="spyagency-failover-") as workdir:
        config = Path(workdir) / "agency.toml"
        document = {
            "database": {"url": url},
            "engine": {"heartbeat_seconds": args.heartbeat, "evaluate_interval_seconds": 1.0},
        }
        config.write_text(to_toml(document), encoding="utf-8")
        store = Store(build_engine(url))
        cluster = EngineCluster(config, store, Path(workdir))
        times = []
        try:
            cluster.start(2)
            for kill in range(args.kills):
                took, before, after = cluster.kill_leader()
                times.append(took)
                print(f"kill {kill + 1}: epoch {before.epoch} -> {after.epoch} in {took:.3f} s")
                cluster.start(1)
        finally:
            cluster.stop()
            store.dispose()
    median, worst = statistics.median(times), max(times)
    print(f"heartbeat {args.heartbeat:.2f} s; take-over median {median:.3f} s, worst {worst:.3f} s")
    print(f"RATIO {worst / (2 * args.heartbeat):.2f}")


if __name__ == "__main__":
    main()
