"""The commands that start something and keep it running until Ctrl-C or SIGTERM.

``serve``, ``engine`` and ``web`` run the agency itself (both halves, or one of them) on
the configured database; ``simulate`` runs the simulated CMS alone and prints a configuration
that watches it; ``demo`` runs a simulated CMS and an agency on SQLite together and says how
to log in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from spyagency.cli.shared import ConfigOption, ScenarioOption, console, redact, store_settings

if TYPE_CHECKING:
    from spyagency.config.settings import Settings
    from spyagency.harness.demo import DemoStarted


def bound_port(server: Any) -> int | None:
    """The port the web server really listens on (``web.port = 0`` asks the system for a
    free one, so the configured 0 is no address)."""
    for listener in getattr(server, "servers", None) or ():
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    return None


def _run(coroutine: Any) -> None:
    """Run ``coroutine`` until it ends or Ctrl-C; Ctrl-C is a normal way to stop."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(coroutine)


def _configure_logging(settings: Settings) -> None:
    from spyagency.logs import configure_logging

    configure_logging(settings.logging.level, json_output=settings.logging.json_output)


def _processes(config: Path | None, *, engine: bool, web: bool) -> None:
    from spyagency.bootstrap import build_runtime
    from spyagency.serving import serve

    settings = store_settings(config, creates=engine)
    _configure_logging(settings)
    runtime = build_runtime(settings)

    def ready(server: Any) -> None:
        if server is not None:
            port = bound_port(server) or settings.web.port
            console.print(f"[green]listening[/] on http://{settings.web.host}:{port}/")
        if engine:
            console.print(f"[green]engine running[/]; database {redact(settings.database.url)}")

    async def until_told_to_stop() -> None:
        # SIGTERM (systemd, containers) and SIGINT stop cleanly: a leading engine resigns,
        # so a standby takes over at once instead of waiting for a heartbeat.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(runtime, engine=engine, web=web, stop=stop, on_ready=ready)

    _run(until_told_to_stop())


def serve(config: ConfigOption = None) -> None:
    """Run the engine (spies, evaluator, signals, alerts) and the web server in one process."""
    _processes(config, engine=True, web=True)


def engine(config: ConfigOption = None) -> None:
    """Run only the engine: spies, evaluator, signals and alerts."""
    _processes(config, engine=True, web=False)


def web(config: ConfigOption = None) -> None:
    """Run only the web server (pages and API) on the configured database."""
    _processes(config, engine=False, web=True)


def simulate(
    scenario: ScenarioOption = "quiet_day",
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second.")] = 600.0,
    port: Annotated[int, typer.Option(help="Port of the simulator (0: a free one).")] = 0,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where harvest files and the CondDB go.")
    ] = None,
    agency_port: Annotated[int, typer.Option(help="Web port the agency will use.")] = 8080,
    manual_clock: Annotated[
        bool, typer.Option(help="Time moves only by POST /sim/advance (drivers, crash tests).")
    ] = False,
    quiet_requests: Annotated[
        bool, typer.Option(help="No random per-request HTTP faults (scripted windows stay).")
    ] = False,
) -> None:
    """Run the simulated CMS and print an agency configuration that watches it."""
    from spyagency.harness.demo import agency_document
    from spyagency.harness.toml_text import to_toml
    from spyagency.simulator import SimulatorServer, load_scenario
    from spyagency.simulator.server import without_request_faults

    root = directory or Path(tempfile.mkdtemp(prefix="spyagency-sim-"))
    plan = load_scenario(scenario)
    if quiet_requests:
        plan = without_request_faults(plan)
    simulator = SimulatorServer(
        plan, root / "simulator", speed=speed, port=port, manual_clock=manual_clock
    ).start()
    try:
        document = agency_document(simulator.agency_config(), root, agency_port, speed)
        if manual_clock:
            # A stopped clock has no speed to share: whoever advances it also sets the
            # agency's time (see the crash driver), so the agency keeps the default clock.
            document.pop("clock", None)
        console.print(f"# simulator at {simulator.base_url}; save this as agency.toml:")
        print(to_toml(document))
        console.print("# Ctrl-C stops the simulator")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    finally:
        simulator.stop()


def demo(
    scenario: ScenarioOption = "quiet_day",
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second.")] = 600.0,
    port: Annotated[int, typer.Option(help="Web port of the agency (0: a free one).")] = 8080,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Working directory, kept afterwards (default: a temporary one, removed)."
        ),
    ] = None,
) -> None:
    """Start a simulated CMS, the agency and its web UI in one command, on SQLite."""
    import shutil

    from spyagency.harness.demo import run_demo

    root = directory or Path(tempfile.mkdtemp(prefix="spyagency-demo-"))
    logging.basicConfig(level=logging.WARNING)

    def announce(started: DemoStarted) -> None:
        for line in demo_greeting(started, scenario, speed, root, kept=directory is not None):
            console.print(line, markup=False, highlight=False, soft_wrap=True)

    async def until_told_to_stop() -> None:
        # SIGTERM stops it as cleanly as Ctrl-C, so its temporary folder goes either way.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run_demo(scenario, root, speed=speed, port=port, announce=announce, stop=stop)

    try:
        _run(until_told_to_stop())
    finally:
        if directory is None:
            shutil.rmtree(root, ignore_errors=True)


def demo_greeting(
    started: DemoStarted, scenario: str, speed: float, root: Path, *, kept: bool
) -> list[str]:
    """What the demo prints once it runs: where, how to log in as each role, how to point
    the command line at it."""
    logins = [(user, user.login_url(started.url)) for user in started.users]
    width = max(len(user.name) for user, _ in logins)
    url_width = max(len(url) for _, url in logins)
    config = started.config_file
    return [
        f"Spy-Agency demo at {started.url}",
        f"scenario {scenario}, {speed:g}x real time; Ctrl-C stops",
        "",
        "Log in as one of the demo users (the simulated identity provider asks no password):",
        *(f"  {user.name:<{width}}  {url:<{url_width}}  {user.may}" for user, url in logins),
        '  or click "Log in" on any page and pick a user.',
        "",
        "The command line on the demo's store, with the demo's clock:",
        f"  spyagency token issue NAME --role operator -c {config}",
        f"  (every command takes -c {config}; or export SPYAGENCY_CONFIG={config})",
        "",
        f"files in {root}" + (" (kept)" if kept else " (removed on exit; --dir DIR keeps them)"),
    ]
