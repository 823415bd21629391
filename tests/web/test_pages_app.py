"""The pages inside the whole application: ``create_app`` finds the pages router, serves the
static files, and actions taken through the API show on the pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import pytest
from asgi_lifespan import LifespanManager

from spyagency.web.app import create_app
from spyagency.web.authorization import Role
from spyagency.web.services import WebServices
from tests.web.page_world import BASE_URL, READY, World, make_world, text_between


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


@asynccontextmanager
async def app_client(services: WebServices) -> AsyncIterator[httpx2.AsyncClient]:
    app = create_app(services)
    async with (
        LifespanManager(app) as manager,
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=manager.app), base_url=BASE_URL
        ) as client,
    ):
        yield client


async def test_pages_are_served_by_the_application(world: World) -> None:
    async with app_client(world.services) as client:
        dashboard = await client.get("/")
        run = await client.get(f"/runs/{READY}")
        missing = await client.get("/runs/42")
    assert dashboard.status_code == 200
    assert "script-src 'self'" in dashboard.headers["content-security-policy"]
    assert f'<tr id="run-{READY}"' in dashboard.text
    assert run.status_code == 200 and f"Run {READY}" in run.text
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]


async def test_static_files_and_vendored_libraries(world: World) -> None:
    async with app_client(world.services) as client:
        for name in ("style.css", "app.js", "uPlot-1.6.32.iife.min.js", "uPlot-1.6.32.min.css"):
            answer = await client.get(f"/static/{name}")
            assert answer.status_code == 200, name
        licence = await client.get("/static/uPlot-1.6.32.LICENSE.txt")
    assert "MIT" in licence.text


async def test_an_override_placed_through_the_api_shows_on_the_pages(world: World) -> None:
    async with app_client(world.services) as client:
        placed = await client.post(
            "/api/v1/overrides",
            json={
                "kind": "hold",
                "run": READY,
                "why": "beam spot looks odd",
                "expires_in_hours": 4,
            },
            headers=world.auth(Role.OPERATOR),
        )
        assert placed.status_code == 201, placed.text
        run = await client.get(f"/runs/{READY}")
        audit = await client.get("/audit")
    active = text_between(run.text, 'id="overrides-h"', "</section>")
    assert "beam spot looks odd" in active and "token:operator-bot" in active
    assert "override.hold" in audit.text and f"run:{READY}" in audit.text


async def test_acknowledged_alert_shows_who(world: World) -> None:
    async with app_client(world.services) as client:
        acked = await client.post("/api/v1/alerts/1/ack", headers=world.auth(Role.OPERATOR))
        assert acked.status_code == 200, acked.text
        page = await client.get("/alerts", headers=world.auth(Role.OPERATOR))
    open_section = text_between(page.text, 'id="open-h"', "</section>")
    assert "acknowledged by token:operator-bot" in open_section
    assert "/alerts/1/ack" not in open_section
