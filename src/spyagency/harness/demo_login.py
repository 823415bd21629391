"""Logging in to the demo: one user per role at the simulator's identity provider, which the
demo serves on loopback beside the agency.

The agency is configured for that provider exactly as for CERN SSO (``web.oidc_*``): nothing
in the agency knows it is a demo, so nothing can switch a password-less login on elsewhere.
The provider is the simulator's: it asks no password and, with its chooser on, lets a newcomer
pick the user. Each user's role comes from the same role values the agency maps from CERN SSO
(``auth_routes.ROLE_VALUES``), so logging in as ``expert`` exercises the real mapping.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import uvicorn

from spyagency.simulator.oidc import OidcProvider
from spyagency.web.abilities import allowed_to
from spyagency.web.auth_routes import ROLE_VALUES
from spyagency.web.authorization import Role

CLIENT_ID = "spyagency-demo"


@dataclass(frozen=True)
class DemoUser:
    name: str
    role: Role
    # What the provider puts in the login's ``roles`` claim.
    role_values: tuple[str, ...]

    def login_url(self, agency_url: str) -> str:
        """Straight to the agency's login as this user (the provider skips its chooser)."""
        return f"{agency_url.rstrip('/')}/auth/login?{urlencode({'login_hint': self.name})}"

    @property
    def may(self) -> str:
        return ", ".join(allowed_to(self.role)) or "read only"


def demo_users() -> tuple[DemoUser, ...]:
    """One user per role, named after it, lowest role first."""
    granting = {role: value for value, role in ROLE_VALUES.items()}
    return tuple(
        DemoUser(role.label, role, (granting[role],) if role in granting else ()) for role in Role
    )


def demo_provider(users: tuple[DemoUser, ...]) -> OidcProvider:
    """The provider, with a fresh client secret (written into the demo's configuration)."""
    return OidcProvider(
        CLIENT_ID,
        secrets.token_urlsafe(24),
        users={user.name: list(user.role_values) for user in users},
        default_user=users[0].name,
        chooser=True,
    )


class _QuietServer(uvicorn.Server):
    """Leaves Ctrl-C to the demo, which stops everything together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class ServedApp:
    """An ASGI app on a loopback socket bound at once, so its URL is known before it runs
    (the agency's configuration names the provider before anything is started)."""

    app: Any
    listener: socket.socket

    @classmethod
    def bind(cls, app: Any) -> ServedApp:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        return cls(app, listener)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="off", ws="none", timeout_graceful_shutdown=1
        )
        server = _QuietServer(config)
        task = asyncio.create_task(server.serve(sockets=[self.listener]))
        try:
            while not server.started and not task.done():
                await asyncio.sleep(0.01)
            if task.done():
                task.result()  # it failed to start: say why
            yield self.url
        finally:
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.listener.close()
