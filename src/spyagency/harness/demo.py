"""The demo: a time-scaled simulated CMS and the agency watching it, with the web UI.

Both run on the wall clock sped up by the same factor (``clock.mode = "scaled"`` with the
simulator's origin), so every deadline on the pages matches the simulated world. Durations
that are about the agency's own polling (staleness) are scaled so that a source polled every
few wall seconds is not "stale" after a fraction of one.

Logging in works as in production, against the simulator's identity provider (see
``demo_login``). The agency's configuration is written to ``agency.toml`` in the working
folder, so the command line (``spyagency token issue NAME -c agency.toml``) works on the
demo's store with the demo's clock, and its actions land at the demo's "now".
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spyagency.bootstrap import build_runtime
from spyagency.config.loading import parse_settings
from spyagency.domain.states import Source
from spyagency.harness.demo_login import (
    CLIENT_ID,
    DemoUser,
    ServedApp,
    demo_provider,
    demo_users,
)
from spyagency.harness.toml_text import to_toml
from spyagency.serving import serve
from spyagency.simulator import SimulatorServer, load_scenario

CONFIG_FILE = "agency.toml"
CONFIG_HEADER = """\
# The demo agency's configuration, written by `spyagency demo` for the command line:
#   spyagency token issue NAME --role operator -c {path}
# It holds the demo's secrets (a webhook secret, an identity provider's client secret):
# they are throwaway ones, valid only while this demo runs.
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def agency_document(
    sim: dict[str, Any], workdir: Path, web_port: int, speed: float, poll_seconds: float = 2.0
) -> dict[str, Any]:
    """An agency configuration watching the simulator described by ``sim``."""
    sources = {
        "tier0": {"url": sim["tier0_url"]},
        "oms": {"url": sim["oms_url"]},
        "harvest": {"path": sim["harvest_dir"]},
        "conddb": {"url": sim["conddb_url"]},
        "upload_log": {"url": sim["upload_logs_url"]},
        "dqm": {"url": sim["dqm_url"]},
        "wmstats": {"url": sim["wmstats_url"]},
    }
    for source in sources.values():
        source.update(poll_interval_seconds=poll_seconds, timeout_seconds=5.0, retries=1)
    # Ten poll intervals of silence, in simulated minutes, before a source counts as stale.
    stale_minutes = max(30.0, 10 * poll_seconds * speed / 60)
    return {
        "database": {"url": f"sqlite:///{workdir / 'agency.db'}"},
        "sources": {**sources, "prompt_global_tags": [sim["prompt_global_tag"]]},
        "policy": {"stale_after_minutes": {s.value: stale_minutes for s in Source}},
        "clock": {"mode": "scaled", **sim["clock"]},
        "signals": {
            "webhook_url": sim["tier0_readiness_webhook_url"],
            "webhook_secret": sim["readiness_secret"],
        },
        "web": {
            "host": "127.0.0.1",
            "port": web_port,
            "public_url": f"http://127.0.0.1:{web_port}",
            "open_read": True,
        },
        "engine": {"evaluate_interval_seconds": 1.0},
    }


@dataclasses.dataclass(frozen=True)
class DemoStarted:
    """What a newcomer needs once the demo runs."""

    url: str
    # The agency's configuration, for ``spyagency ... -c config_file``.
    config_file: Path
    users: tuple[DemoUser, ...]
    # Where the identity provider lets one pick a user.
    issuer: str


def write_config(document: dict[str, Any], path: Path) -> None:
    """The configuration as TOML, readable by its owner only (it holds the demo's secrets)."""
    path.write_text(CONFIG_HEADER.format(path=path) + to_toml(document), "utf-8")
    path.chmod(0o600)


async def run_demo(
    scenario: str,
    workdir: Path,
    *,
    speed: float,
    port: int = 0,
    announce: Callable[[DemoStarted], None] = lambda started: None,
    stop: asyncio.Event | None = None,
) -> None:
    web_port = port or free_port()
    agency_url = f"http://127.0.0.1:{web_port}"
    users = demo_users()
    provider = demo_provider(users)
    identity = ServedApp.bind(provider.app())
    plan = load_scenario(scenario)
    readiness = dataclasses.replace(
        plan.readiness,
        consume=True,
        webhook=True,
        poll_url=f"{agency_url}/api/v1/readiness",
    )
    simulator = SimulatorServer(
        plan.replace(readiness=readiness), workdir / "simulator", speed=speed, port=0
    ).start()
    try:
        document = agency_document(simulator.agency_config(), workdir, web_port, speed)
        document["web"].update(
            oidc_issuer=identity.url,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=provider.client_secret,
        )
        config_file = workdir / CONFIG_FILE
        write_config(document, config_file)
        runtime = build_runtime(parse_settings(document))

        def ready(_server: object) -> None:
            announce(DemoStarted(f"{agency_url}/", config_file, users, identity.url))

        async with identity.running():
            await serve(runtime, engine=True, web=True, stop=stop, on_ready=ready)
    finally:
        simulator.stop()
        identity.listener.close()
