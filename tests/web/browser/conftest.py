"""Chromium (Debian's, driven by Playwright) against the whole app on a real uvicorn server.

Without /usr/bin/chromium these tests are skipped, except in CI (``CI=true``), where a missing
browser fails the run instead of silently testing less.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from spyagency.simulator.oidc import OidcProvider
from spyagency.web.app import create_app
from spyagency.web.security import SESSION_COOKIE, SignedCookie, secret_for
from tests.web.page_world import World, make_world, seed_many

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
SECRET = "browser-test-secret"


@dataclass
class LiveServer:
    url: str
    world: World
    loop: asyncio.AbstractEventLoop

    def notify_changes(self) -> None:
        """Wake the live streams, on the server's loop, as the engine does after a batch."""
        future = asyncio.run_coroutine_threadsafe(self.world.services.changes.notify(), self.loop)
        future.result(timeout=5)

    def session_cookie(self, name: str, role: str, csrf: str) -> dict[str, Any]:
        """A logged-in browser session, as the OIDC callback would start it."""
        codec = SignedCookie(secret_for(self.world.services.settings), "session")
        value = codec.dump({"name": name, "role": role, "csrf": csrf}, 600)
        return {"name": SESSION_COOKIE, "value": value, "url": self.url}


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true: browser tests must run, not be skipped)")
        pytest.skip(message)
    return CHROMIUM


@contextmanager
def served(app: Any, port: int = 0) -> Iterator[tuple[str, asyncio.AbstractEventLoop]]:
    """Serve ``app`` with uvicorn in a thread on loopback (``port`` 0: a free one); yields
    (url, loop)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", port))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", ws="none", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.serve(sockets=[listener]))

    thread = threading.Thread(target=serve, name="uvicorn", daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{port}", loop
    finally:
        server.should_exit = True
        thread.join(10)
        loop.close()
        listener.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    world = make_world(tmp_path, secret_key=SECRET)
    seed_many(world.store, 30)
    with served(create_app(world.services)) as (url, loop):
        yield LiveServer(url, world, loop)
    world.store.dispose()


@pytest.fixture
def live_with_login(tmp_path: Path) -> Iterator[LiveServer]:
    """The app behind a real OpenID Connect provider (the simulator's), both on loopback."""
    provider = OidcProvider(
        "spyagency", "client-secret", users={"olga": ["spyagency-operator"]}, default_user="olga"
    )
    with served(provider.app()) as (issuer, _):
        # The callback URL must be known before the app starts: the provider redirects to it.
        port = free_port()
        world = make_world(
            tmp_path,
            secret_key=SECRET,
            open_read=True,
            public_url=f"http://127.0.0.1:{port}",
            oidc_issuer=issuer,
            oidc_client_id="spyagency",
            oidc_client_secret="client-secret",
        )
        seed_many(world.store, 5)
        with served(create_app(world.services), port) as (url, loop):
            yield LiveServer(url, world, loop)
        world.store.dispose()


@pytest.fixture
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Watched:
    page: Page
    console_errors: list[str]


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    """A page whose console errors (a CSP violation, a failed script) are collected."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.set_default_timeout(10_000)
    yield Watched(page, errors)
    context.close()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
