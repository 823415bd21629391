"""The ``spyagency`` command line: the root ``app`` and ``main``, the console script.

Here the commands are put together in the order ``--help`` lists them; each group lives in
its own module: the running processes in ``processes``, ``replay`` and ``whatif`` in
``replays``, ``config`` and ``db`` in ``maintenance``, ``token`` and ``session`` in
``access``, and what they all use (consoles, options, loading the settings) in ``shared``.
"""

from __future__ import annotations

import typer

from spyagency.cli.access import session_app, token_app
from spyagency.cli.maintenance import config_app, db_app
from spyagency.cli.processes import demo, engine, serve, simulate, web
from spyagency.cli.replays import replay, whatif

app = typer.Typer(
    name="spyagency",
    help="Watch the CMS Prompt Calibration Loop, prove when runs are calibrated, tell the Tier-0.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(serve)
app.command()(engine)
app.command()(web)
app.command()(simulate)
app.command()(demo)
app.command()(replay)
app.command()(whatif)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(token_app, name="token")
app.add_typer(session_app, name="session")


def main() -> None:
    app()
