"""What every command of the ``spyagency`` program has in common.

The two consoles (answers on stdout, refusals on stderr), the ``--config`` and ``--scenario``
options, reading the settings a command runs on (a broken configuration exits with code 2),
the guard that keeps a command from quietly opening a default database nobody named, and a
database URL printed without its password.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from spyagency.config.loading import ConfigError, load_settings
from spyagency.config.settings import Settings

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

ScenarioOption = Annotated[
    str, typer.Option(help="Scenario: quiet_day, bad_day, production_year, or a TOML path.")
]


def load_or_exit(path: Path | None) -> Settings:
    """The settings read from ``path`` (and the environment); exit code 2 when they are wrong."""
    try:
        return load_settings(path)
    except ConfigError as error:
        # Unwrapped: each line names one setting, and a message cut in two is harder to grep.
        errors.print(f"[bold red]configuration error[/]\n{error}", soft_wrap=True)
        raise typer.Exit(2) from None


# Set, it names the database as explicitly as a configuration file does.
DATABASE_ENVIRONMENT = "SPYAGENCY__DATABASE__"


def store_settings(config: Path | None, *, creates: bool = False) -> Settings:
    """The settings of a command that opens the store, never an unannounced default one.

    Without ``-c``/``SPYAGENCY_CONFIG`` (nor a ``SPYAGENCY__DATABASE__*`` variable) the
    database is the built-in default: the command says so on stderr. A command that only
    works on the agency's existing store (tokens, sessions, what-if, compaction, a web server
    alone) refuses when that default database does not exist yet: a token issued into a fresh
    empty database would be a token the agency never sees. Commands that create a store
    (``serve``, ``engine``, ``db upgrade``: ``creates``) go on with it."""
    settings = load_or_exit(config)
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
        f"{redact(url)}",
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


def redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
