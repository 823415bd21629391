"""The ``spyagency`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from spyagency.config import ConfigError, Settings, load_settings

app = typer.Typer(
    name="spyagency",
    help="Watch the CMS Prompt Calibration Loop, prove when runs are calibrated, tell the Tier-0.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration tools.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")

console = Console()
errors = Console(stderr=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML configuration file (SPYAGENCY__* environment variables override it).",
        envvar="SPYAGENCY_CONFIG",
        dir_okay=False,
    ),
]


def _settings(path: Path | None) -> Settings:
    try:
        return load_settings(path)
    except ConfigError as error:
        # Unwrapped: each line names one setting, and a message cut in two is harder to grep.
        errors.print(f"[bold red]configuration error[/]\n{error}", soft_wrap=True)
        raise typer.Exit(2) from None


@config_app.command("check")
def config_check(
    file: Annotated[Path, typer.Argument(help="The TOML file to validate.", dir_okay=False)],
) -> None:
    """Validate a configuration file: build everything ``serve`` would (clock, catalogue,
    policy, spies and their credentials, signal and alert channels) without starting it, and
    say precisely what is wrong. Never prints a secret."""
    from spyagency.bootstrap import check_settings

    settings = _settings(file)
    problems = check_settings(settings)
    if problems:
        errors.print(f"[bold red]configuration error[/]\n{file}:")
        for problem in problems:
            errors.print(f"  {problem}", markup=False, soft_wrap=True)
        raise typer.Exit(2)
    console.print(f"[green]{file}: valid[/] (database {_redact(settings.database.url)})")


@db_app.command("upgrade")
def db_upgrade(
    config: ConfigOption = None,
    url: Annotated[
        str | None, typer.Option(help="Database URL (overrides the configuration).")
    ] = None,
) -> None:
    """Create or migrate the database schema to the latest version."""
    from spyagency.store.migrations import upgrade

    target = url or _settings(config).database.url
    upgrade(target)
    console.print(f"[green]database at head[/]: {_redact(target)}")


@db_app.command("compact")
def db_compact(
    config: ConfigOption = None,
    older_than_days: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Compact runs last observed this many days ago or earlier "
            "(default: retention.max_age_days; 0 compacts every finished run).",
        ),
    ] = None,
) -> None:
    """Compact old observations of finished runs into per-run summaries; delete old events."""
    from datetime import timedelta

    from spyagency.bootstrap import build_clock, build_store
    from spyagency.store.retention import compact, retention_cutoff

    settings = _settings(config)
    now = build_clock(settings).now()
    if older_than_days is None:
        older_than = retention_cutoff(now, settings.retention.max_age_days)
        if older_than is None:
            console.print("retention.max_age_days is 0: keeping everything")
            return
    else:
        older_than = now - timedelta(days=older_than_days)
    report = compact(build_store(settings), older_than=older_than, now=now)
    console.print(
        f"compacted {len(report.runs)} run(s) last observed before {older_than:%Y-%m-%d %H:%M}Z: "
        f"{report.observations_deleted} observation(s) and {report.events_deleted} event(s) "
        f"deleted in {report.transactions} transaction(s)"
    )


def _redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


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


def _processes(config: Path | None, *, engine: bool, web: bool) -> None:
    from spyagency.bootstrap import build_runtime, serve

    settings = _settings(config)
    _configure_logging(settings)
    runtime = build_runtime(settings)

    def ready(server: Any) -> None:
        if server is not None:
            port = bound_port(server) or settings.web.port
            console.print(f"[green]listening[/] on http://{settings.web.host}:{port}/")
        if engine:
            console.print(f"[green]engine running[/]; database {_redact(settings.database.url)}")

    async def until_told_to_stop() -> None:
        # SIGTERM (systemd, containers) and SIGINT stop cleanly: a leading engine resigns,
        # so a standby takes over at once instead of waiting for a heartbeat.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(runtime, engine=engine, web=web, stop=stop, on_ready=ready)

    _run(until_told_to_stop())


@app.command()
def serve(config: ConfigOption = None) -> None:
    """Run the engine (spies, evaluator, signals, alerts) and the web server in one process."""
    _processes(config, engine=True, web=True)


@app.command()
def engine(config: ConfigOption = None) -> None:
    """Run only the engine: spies, evaluator, signals and alerts."""
    _processes(config, engine=True, web=False)


@app.command()
def web(config: ConfigOption = None) -> None:
    """Run only the web server (pages and API) on the configured database."""
    _processes(config, engine=False, web=True)


ScenarioOption = Annotated[
    str, typer.Option(help="Scenario: quiet_day, bad_day, production_year, or a TOML path.")
]


@app.command()
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


@app.command()
def demo(
    scenario: ScenarioOption = "quiet_day",
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second.")] = 600.0,
    port: Annotated[int, typer.Option(help="Web port of the agency (0: a free one).")] = 8080,
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Working directory (default: a new temp dir).")
    ] = None,
) -> None:
    """Start a simulated CMS, the agency and its web UI in one command, on SQLite."""
    from spyagency.harness.demo import run_demo

    root = directory or Path(tempfile.mkdtemp(prefix="spyagency-demo-"))
    logging.basicConfig(level=logging.WARNING)

    def announce(url: str, _config: dict[str, Any]) -> None:
        console.print(f"[bold green]Spy-Agency demo[/] at [link={url}]{url}[/link]")
        console.print(f"scenario {scenario}, {speed:g}x real time; files in {root}; Ctrl-C stops")

    _run(run_demo(scenario, root, speed=speed, port=port, announce=announce))


@app.command()
def replay(
    scenario: ScenarioOption = "quiet_day",
    step_minutes: Annotated[float, typer.Option(help="Simulated minutes per step.")] = 10.0,
    extra_hours: Annotated[
        float, typer.Option(help="Hours simulated after the scenario ends (lock-ins).")
    ] = 50.0,
    policy: Annotated[
        Path | None, typer.Option(help="TOML file with a [policy] table to replay under.")
    ] = None,
    directory: Annotated[Path | None, typer.Option("--dir", help="Working directory.")] = None,
) -> None:
    """Replay a scenario in process (no sleeping) and report per run what the agency decided."""
    import tomllib
    from datetime import timedelta

    from rich.progress import Progress
    from rich.table import Table

    from spyagency.harness.replay import replay as run_replay

    overrides = tomllib.loads(policy.read_text("utf-8")).get("policy", {}) if policy else {}
    root = directory or Path(tempfile.mkdtemp(prefix="spyagency-replay-"))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"replaying {scenario}", total=1.0)
        result = asyncio.run(
            run_replay(
                scenario,
                root,
                step=timedelta(minutes=step_minutes),
                extra_hours=extra_hours,
                policy=overrides,
                progress=lambda done: progress.update(task, completed=done),
            )
        )
    table = Table("run", "verdict", "released", "signal", "reasons")
    signals = {s.run: s.decided_at for s in result.signals if s.verdict.value == "ready"}
    for truth in result.truth["runs"]:
        run = truth["run"]
        verdict = result.verdicts.get(run)
        table.add_row(
            str(run),
            verdict.value if verdict else "-",
            truth["released"] or "-",
            f"{signals[run]:%m-%d %H:%M}" if run in signals else "-",
            "; ".join(result.reasons.get(run, ()))[:120],
        )
    console.print(table)
    console.print(
        f"{result.steps} steps, {result.observations} observations, "
        f"{result.wall_seconds:.1f} s; store in {root}"
    )


@app.command()
def whatif(
    policy: Annotated[
        Path, typer.Option(help="TOML file whose [policy] table is the alternative.")
    ],
    config: ConfigOption = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="List every run, not only differences.")
    ] = False,
) -> None:
    """Re-judge the stored observations under another policy and show what would have differed."""
    import tomllib

    from rich.progress import Progress
    from rich.table import Table

    from spyagency.bootstrap import build_catalogue, build_store
    from spyagency.config import PolicySettings
    from spyagency.engine.whatif import compare_policies

    settings = _settings(config)
    try:
        document = tomllib.loads(policy.read_text("utf-8")).get("policy", {})
        alternative = PolicySettings.model_validate(document).to_policy()
    except (OSError, ValueError) as error:
        errors.print(f"[bold red]bad policy file[/] {policy}: {error}")
        raise typer.Exit(2) from None
    store = build_store(settings)
    with store.read() as tx:
        observations = list(tx.observations.iter_all())
        overrides = tx.overrides.all_in_force_or_expiring_after(datetime.min.replace(tzinfo=UTC))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("re-judging", total=len(observations))
        results = compare_policies(
            observations,
            build_catalogue(settings),
            settings.policy.to_policy(),
            alternative,
            overrides,
            progress=lambda done: progress.update(task, completed=done),
        )
    table = Table("run", "ready (now)", "ready (alternative)", "final (now)", "final (alternative)")
    shown = 0
    for run, comparison in sorted(results.items()):
        if not (show_all or comparison.differs):
            continue
        shown += 1
        ready, final = comparison.ready_at, comparison.final
        table.add_row(
            str(run),
            *(f"{t:%m-%d %H:%M}" if t else "-" for t in ready),
            *(v.value if v else "-" for v in final),
        )
    console.print(table)
    console.print(f"{shown} of {len(results)} runs shown; {len(observations)} observations")


token_app = typer.Typer(
    help="API tokens for tools (the Tier-0 poller, scripts).", no_args_is_help=True
)
app.add_typer(token_app, name="token")


@token_app.command("issue")
def token_issue(
    name: Annotated[str, typer.Argument(help="Who or what the token is for.")],
    role: Annotated[str, typer.Option(help="viewer, operator or expert.")] = "viewer",
    config: ConfigOption = None,
) -> None:
    """Create an API token; the plaintext is printed once and stored only as a hash."""
    from spyagency.bootstrap import build_clock, build_store
    from spyagency.web.security import issue_token

    settings = _settings(config)
    store = build_store(settings)
    try:
        token = issue_token(store, name, role, build_clock(settings).now())
    except ValueError as refused:
        errors.print(f"token not issued: {refused}", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(token)


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(help="Name given when the token was issued.")],
    config: ConfigOption = None,
) -> None:
    """Revoke every active token of that name."""
    from spyagency.bootstrap import build_clock, build_store
    from spyagency.web.security import revoke_tokens

    settings = _settings(config)
    count = revoke_tokens(build_store(settings), name, build_clock(settings).now())
    console.print(f"revoked {count} token(s) named {name}")


session_app = typer.Typer(help="Browser sessions.", no_args_is_help=True)
app.add_typer(session_app, name="session")


@session_app.command("end")
def session_end(
    name: Annotated[str, typer.Argument(help="The user whose browser sessions end.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "ended by CLI",
    config: ConfigOption = None,
) -> None:
    """End every browser session of a user at once (a lost laptop, a role taken away): their
    next request is anonymous until they log in again."""
    from spyagency.bootstrap import build_clock, build_store
    from spyagency.web.security import end_sessions

    settings = _settings(config)
    end_sessions(build_store(settings), name, "cli", build_clock(settings).now(), reason)
    console.print(f"ended every browser session of {name}")


def _configure_logging(settings: Settings) -> None:
    from spyagency.logs import configure_logging

    configure_logging(settings.logging.level, json_output=settings.logging.json_output)


def main() -> None:
    app()
