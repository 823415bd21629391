"""Who may use the agency, from the command line: the ``token`` and ``session`` commands.

API tokens for tools are issued (the plaintext shown once) and revoked by name; a user's
browser sessions can all be ended at once.
"""

from __future__ import annotations

from typing import Annotated

import typer

from spyagency.cli.shared import ConfigOption, console, errors, store_settings

token_app = typer.Typer(
    help="API tokens for tools (the Tier-0 poller, scripts).", no_args_is_help=True
)
session_app = typer.Typer(help="Browser sessions.", no_args_is_help=True)


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
    settings = store_settings(config)
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

    settings = store_settings(config)
    count = revoke_tokens(build_store(settings), name, build_clock(settings).now())
    console.print(f"revoked {count} token(s) named {name}")


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

    settings = store_settings(config)
    end_sessions(build_store(settings), name, "cli", build_clock(settings).now(), reason)
    console.print(f"ended every browser session of {name}")
