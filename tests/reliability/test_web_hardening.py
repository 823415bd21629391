"""Small hardening regressions: path numbers, error headers, a store that refuses writes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from sqlalchemy.engine import make_url

from spyagency.store.database import build_engine
from spyagency.store.errors import StoreError
from spyagency.store.uow import Store
from spyagency.web.app import create_app
from spyagency.web.authorization import Role
from tests.web.api_world import BASE_URL, READY, World, client_for, make_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = make_world(f"sqlite:///{tmp_path / 'agency.db'}")
    yield world
    world.store.dispose()


@pytest.mark.parametrize(
    "path",
    [
        "/runs/{n}",
        "/fragments/runs/{n}/detail",
        "/fragments/runs/{n}/row",
        "/api/v1/runs/{n}",
        "/api/v1/runs/{n}/timeline",
    ],
)
@pytest.mark.parametrize("number", ["99999999999999999999999", "3_8_0_0_0_1", "0", "-5", "+7"])
async def test_bad_run_numbers_are_422_on_pages_and_api_alike(
    world: World, path: str, number: str
) -> None:
    async with client_for(world.services) as client:
        answer = await client.get(path.format(n=number))
    assert answer.status_code == 422, (path, number, answer.status_code)


async def test_an_internal_error_carries_the_security_headers(world: World) -> None:
    app = create_app(world.services)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("driver said: password=hunter2")

    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        answer = await client.get("/boom")
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal error"}
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


async def test_a_read_only_store_answers_writes_with_503(world: World, tmp_path: Path) -> None:
    ro_url = f"sqlite:///file:{tmp_path / 'agency.db'}?mode=ro&uri=true"
    read_only = Store(build_engine(ro_url))
    services = dataclasses.replace(world.services, store=read_only)
    hold = {"kind": "hold", "run": READY, "why": "look", "expires_in_hours": 1}
    try:
        async with client_for(services) as client:
            shown = await client.get(f"/api/v1/runs/{READY}")
            answer = await client.post(
                "/api/v1/overrides", json=hold, headers=world.auth(Role.EXPERT)
            )
    finally:
        read_only.dispose()
    assert shown.status_code == 200
    assert answer.status_code == 503 and "read-only" in answer.json()["detail"]
    assert answer.headers["retry-after"] == "30"


async def test_a_browser_gets_a_page_for_an_unknown_address_and_the_api_json(
    world: World,
) -> None:
    html = {"Accept": "text/html,application/xhtml+xml"}
    async with client_for(world.services) as client:
        page = await client.get("/no/such/page", headers=html)
        api = await client.get("/api/v1/no-such-thing", headers=html)
        tool = await client.get("/no/such/page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Back to the dashboard" in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    assert tool.status_code == 404 and tool.json() == {"detail": "Not Found"}


def _with_leader(store: Store) -> None:
    with store.transaction() as tx:
        tx.leader.try_acquire("engine", "host:1:a", datetime.now(UTC), timedelta(minutes=5))


async def test_readyz_is_unready_while_the_store_refuses_writes(
    world: World, tmp_path: Path
) -> None:
    _with_leader(world.store)
    async with client_for(world.services) as client:
        writable = await client.get("/readyz")
    ro_url = f"sqlite:///file:{tmp_path / 'agency.db'}?mode=ro&uri=true"
    read_only = Store(build_engine(ro_url))
    try:
        async with client_for(dataclasses.replace(world.services, store=read_only)) as client:
            opened_ro = await client.get("/readyz")
    finally:
        read_only.dispose()
    assert writable.status_code == 200 and writable.json()["status"] == "ok"
    assert opened_ro.status_code == 503
    assert opened_ro.json() == {
        "status": "read_only",
        "database": True,
        "leader": None,
        "leader_epoch": None,
    }


@pytest.mark.postgres
async def test_a_read_only_postgresql_is_unready_and_refuses_writes_with_503(
    postgres_database: str,
) -> None:
    world = make_world(postgres_database)
    _with_leader(world.store)
    url = make_url(postgres_database).update_query_dict(
        {"options": "-c default_transaction_read_only=on"}
    )
    read_only = Store(build_engine(url))
    try:
        async with client_for(world.services) as client:
            writable = await client.get("/readyz")
        hold = {"kind": "hold", "run": READY, "why": "look", "expires_in_hours": 1}
        async with client_for(dataclasses.replace(world.services, store=read_only)) as client:
            refused = await client.get("/readyz")
            write = await client.post(
                "/api/v1/overrides", json=hold, headers=world.auth(Role.EXPERT)
            )
    finally:
        read_only.dispose()
        world.store.dispose()
    assert writable.json()["status"] == "ok"
    assert refused.status_code == 503 and refused.json()["status"] == "read_only"
    # PostgreSQL refuses a read-only write with an error of another class than SQLite's.
    assert write.status_code == 503 and write.headers["retry-after"] == "30"


async def test_a_database_bug_is_a_500_that_reaches_the_server_log(world: World) -> None:
    app = create_app(world.services)

    @app.get("/broken-query")
    def broken() -> None:
        with world.store.read() as tx:
            tx.connection.exec_driver_sql("SELECT * FROM no_such_table")

    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        answer = await client.get("/broken-query")
    assert answer.status_code == 500 and answer.json() == {"detail": "internal error"}
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "retry-after" not in answer.headers
    # The error leaves the app after the answer, as every unhandled one does: the server
    # (uvicorn) logs it with its traceback. A 503 for it would have hidden a bug.
    raising = httpx2.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx2.AsyncClient(transport=raising, base_url=BASE_URL) as client:
        with pytest.raises(StoreError, match="no_such_table"):
            await client.get("/broken-query")
