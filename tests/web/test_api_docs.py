"""``/docs`` without a browser: nothing from elsewhere, no inline script, every file it names
served from ``/static``, the vendored bundle's licence beside it."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from spyagency.web.api_docs import SWAGGER_UI_VERSION
from spyagency.web.authorization import Role
from spyagency.web.security import SESSION_COOKIE, SignedCookie, secret_for
from tests.web.api_world import World, client_for, make_world


@pytest.fixture
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("docs")
    world = make_world(f"sqlite:///{folder / 'docs.db'}", seeded=False, secret_key="docs")
    yield world
    world.store.dispose()


async def test_docs_page_uses_only_our_own_files_and_no_inline_script(world: World) -> None:
    async with client_for(world.services) as client:
        page = await client.get("/docs")
        named = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
        files = {path: await client.get(path) for path in named}
        licence = await client.get(f"/static/swagger-ui-{SWAGGER_UI_VERSION}.LICENSE.txt")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace('"http-equiv', "")
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts and all('src="/static/' in attrs and not body for attrs, body in scripts)
    assert f"/static/swagger-ui-{SWAGGER_UI_VERSION}.bundle.js" in named
    assert all(answer.status_code == 200 for answer in files.values()), files
    assert "Apache License" in licence.text


async def test_docs_page_carries_the_session_csrf_token_for_try_it_out(world: World) -> None:
    codec = SignedCookie(secret_for(world.services.settings), "session")
    cookie = codec.dump({"name": "erik", "role": Role.EXPERT.label, "csrf": "tok-1"}, 600)
    async with client_for(world.services) as client:
        anonymous = await client.get("/docs")
        client.cookies.set(SESSION_COOKIE, cookie)
        logged_in = await client.get("/docs")
    assert '<meta name="csrf-token" content="">' in anonymous.text
    assert '<meta name="csrf-token" content="tok-1">' in logged_in.text


async def test_the_openapi_document_declares_the_bearer_scheme_and_auth_errors(
    world: World,
) -> None:
    async with client_for(world.services) as client:
        document = (await client.get("/openapi.json")).json()
    scheme = document["components"]["securitySchemes"]["token"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    readiness = document["paths"]["/api/v1/readiness"]["get"]
    assert {"token": []} in readiness["security"]
    assert {"401", "403"} <= set(readiness["responses"])
