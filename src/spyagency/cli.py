"""The ``spyagency`` command line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from spyagency.config.loading import ConfigError, load_settings
from spyagency.config.settings import Settings

if TYPE_CHECKING:
    from spyagency.domain.policy import Policy
    from spyagency.harness.demo import DemoStarted

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


# Set, it names the database as explicitly as a configuration file does.
DATABASE_ENVIRONMENT = "SPYAGENCY__DATABASE__"


def _store_settings(config: Path | None, *, creates: bool = False) -> Settings:
    """The settings of a command that opens the store, never an unannounced default one.

    Without ``-c``/``SPYAGENCY_CONFIG`` (nor a ``SPYAGENCY__DATABASE__*`` variable) the
    database is the built-in default: the command says so on stderr. A command that only
    works on the agency's existing store (tokens, sessions, what-if, compaction, a web server
    alone) refuses when that default database does not exist yet: a token issued into a fresh
    empty database would be a token the agency never sees. Commands that create a store
    (``serve``, ``engine``, ``db upgrade``: ``creates``) go on with it."""
    settings = _settings(config)
    if config is not None or any(name.startswith(DATABASE_ENVIRONMENT) for name in os.environ):
        return settings
    url = settings.database.url
    missing = _sqlite_file(url)
    if not creates and missing is not None and not missing.exists():
        errors.print(
            f"no database at {missing}: no configuration was given (-c FILE or "
            "SPYAGENCY_CONFIG), and the default database does not exist.\n"
            "Pass the agency's configuration with -c FILE (or set SPYAGENCY_CONFIG=FILE).",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)
    errors.print(
        f"no configuration given (-c FILE or SPYAGENCY_CONFIG): using the default database "
        f"{_redact(url)}",
        markup=False,
        soft_wrap=True,
    )
    return settings


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL (None: another database, or one in memory)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


@config_app.command("check")
def config_check(
    file: Annotated[Path, typer.Argument(help="The TOML file to validate.", dir_okay=False)],
) -> None:
    """Validate a configuration file: build everything ``serve`` would (clock, catalogue,
    policy, spies and their credentials, signal and alert channels) without starting it, and
    say precisely what is wrong. Never prints a secret."""
    from spyagency.serving import check_settings

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

    target = url or _store_settings(config, creates=True).database.url
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

    settings = _store_settings(config)
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
    from spyagency.bootstrap import build_runtime
    from spyagency.serving import serve

    settings = _store_settings(config, creates=engine)
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


@app.command()
def replay(
    scenario: ScenarioOption = "quiet_day",
    step_minutes: Annotated[
        float, typer.Option(help="Simulated minutes between polls of every source.")
    ] = 10.0,
    extra_hours: Annotated[
        float, typer.Option(help="Hours simulated after the scenario ends (lock-ins).")
    ] = 50.0,
    policy: Annotated[
        Path | None, typer.Option(help="TOML file with a [policy] table to replay under.")
    ] = None,
    directory: Annotated[Path | None, typer.Option("--dir", help="Working directory.")] = None,
) -> None:
    """Replay a scenario through the engine in virtual time and report per run what the agency
    decided."""
    import tomllib
    from datetime import timedelta

    from rich.progress import Progress
    from rich.table import Table

    from spyagency.harness.replay import replay as run_replay

    overrides = tomllib.loads(policy.read_text("utf-8")).get("policy", {}) if policy else {}
    root = directory or Path(tempfile.mkdtemp(prefix="spyagency-replay-"))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"replaying {scenario}", total=1.0)
        result = run_replay(
            scenario,
            root,
            step=timedelta(minutes=step_minutes),
            extra_hours=extra_hours,
            policy=overrides,
            progress=lambda done: progress.update(task, completed=done),
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
        f"{result.polls} polls, {result.ticks} ticks, {result.news} observations stored, "
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
    from rich.progress import Progress
    from rich.table import Table

    from spyagency.bootstrap import build_catalogue, build_store
    from spyagency.engine.whatif import compare_policies

    settings = _store_settings(config)
    alternative = _alternative_policy(settings, policy)
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


def _alternative_policy(settings: Settings, file: Path) -> Policy:
    """The ``[policy]`` table of ``file``, checked as ``config check`` checks a configuration
    (the same validation, the same catalogue checks) and refused the same way: one line per
    problem, exit code 2. The environment's ``SPYAGENCY__POLICY__*`` variables do not apply:
    the file alone is the alternative."""
    import tomllib

    from spyagency.serving import check_settings

    def refuse(problems: list[str]) -> NoReturn:
        errors.print(f"[bold red]configuration error[/]\n{file}:")
        for problem in problems:
            errors.print(f"  {problem}", markup=False, soft_wrap=True)
        raise typer.Exit(2)

    try:
        alternative = load_settings(file, environ={})
    except ConfigError as error:
        refuse(str(error).removeprefix(f"{file}: ").splitlines())
    if "policy" not in tomllib.loads(file.read_text("utf-8")):
        refuse(["policy: no [policy] table, so no alternative to compare with"])
    swapped = settings.model_copy(update={"policy": alternative.policy})
    # Only the policy's own problems: the rest is the agency's configuration, not this file.
    problems = [p for p in check_settings(swapped) if p.startswith("policy")]
    if problems:
        refuse(problems)
    try:
        return alternative.policy.to_policy()
    except ValueError as error:
        refuse([f"policy: {error}"])


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
    from spyagency.web.authorization import Role
    from spyagency.web.security import issue_token

    try:
        # Before the store is opened: a mistyped role is the first thing to hear about.
        Role.parse(role)
    except ValueError as refused:
        errors.print(f"token not issued: {refused}", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    settings = _store_settings(config)
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

    settings = _store_settings(config)
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

    settings = _store_settings(config)
    end_sessions(build_store(settings), name, "cli", build_clock(settings).now(), reason)
    console.print(f"ended every browser session of {name}")


def _configure_logging(settings: Settings) -> None:
    from spyagency.logs import configure_logging

    configure_logging(settings.logging.level, json_output=settings.logging.json_output)


def main() -> None:
    app()
