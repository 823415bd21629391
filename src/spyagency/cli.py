"""The ``spyagency`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
        errors.print(f"[bold red]configuration error[/]\n{error}")
        raise typer.Exit(2) from None


@config_app.command("check")
def config_check(
    file: Annotated[Path, typer.Argument(help="The TOML file to validate.", dir_okay=False)],
) -> None:
    """Validate a configuration file and say precisely what is wrong."""
    settings = _settings(file)
    console.print(f"[green]{file}: valid[/] (database {settings.database.url})")


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


def _redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def main() -> None:
    app()
