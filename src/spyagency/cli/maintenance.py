"""Looking after an installation: ``config check`` and the ``db`` commands.

``config check`` builds everything ``serve`` would from a configuration file and lists what
is wrong with it; ``db upgrade`` creates or migrates the schema; ``db compact`` folds the old
observations of finished runs into per-run summaries under the retention setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spyagency.cli.shared import (
    ConfigOption,
    console,
    errors,
    load_or_exit,
    redact,
    store_settings,
)

config_app = typer.Typer(help="Configuration tools.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)


@config_app.command("check")
def config_check(
    file: Annotated[Path, typer.Argument(help="The TOML file to validate.", dir_okay=False)],
) -> None:
    """Validate a configuration file: build everything ``serve`` would (clock, catalogue,
    policy, spies and their credentials, signal and alert channels) without starting it, and
    say precisely what is wrong. Never prints a secret."""
    from spyagency.serving import check_settings

    settings = load_or_exit(file)
    problems = check_settings(settings)
    if problems:
        errors.print(f"[bold red]configuration error[/]\n{file}:")
        for problem in problems:
            errors.print(f"  {problem}", markup=False, soft_wrap=True)
        raise typer.Exit(2)
    console.print(f"[green]{file}: valid[/] (database {redact(settings.database.url)})")


@db_app.command("upgrade")
def db_upgrade(
    config: ConfigOption = None,
    url: Annotated[
        str | None, typer.Option(help="Database URL (overrides the configuration).")
    ] = None,
) -> None:
    """Create or migrate the database schema to the latest version."""
    from spyagency.store.migrations import upgrade

    target = url or store_settings(config, creates=True).database.url
    upgrade(target)
    console.print(f"[green]database at head[/]: {redact(target)}")


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

    settings = store_settings(config)
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
