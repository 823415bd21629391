"""Browser login against the simulated OpenID Connect provider over real loopback HTTP.

The provider runs on uvicorn; the agency runs in-process (ASGITransport), so the browser's
hops are followed by hand: agency -> provider -> agency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx2
import pytest

from spyagency.simulator.oidc import OidcProvider
from spyagency.web.auth_routes import role_from_claims, safe_next
from spyagency.web.authorization import Role
from spyagency.web.security import SESSION_COOKIE
from tests.web.api_world import BASE_URL, READY, World, client_for, make_world
from tests.web.loopback import serving

CLIENT_ID, CLIENT_SECRET = "spyagency", "client-secret"
USERS = {"alice": ["spyagency-expert"], "olga": ["spyagency-operator", "cms"], "vic": ["cms"]}


@dataclass
class Login:
    world: World
    provider: OidcProvider
    agency: httpx2.AsyncClient
    browser: httpx2.AsyncClient  # talks to the provider

    async def start(self, next_page: str = "/runs") -> str:
        """Follow the agency's redirect to the provider; returns where the provider sends
        the browser back to (the agency's callback with code and state)."""
        answer = await self.agency.get("/auth/login", params={"next": next_page})
        assert answer.status_code == 303, answer.text
        return answer.headers["location"]

    async def authorize(self, location: str, user: str) -> str:
        answer = await self.browser.get(f"{location}&login_hint={user}")
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]

    async def callback(self, location: str) -> httpx2.Response:
        parts = urlparse(location)
        assert f"{parts.scheme}://{parts.netloc}" == BASE_URL and parts.path == "/auth/callback"
        return await self.agency.get(f"{parts.path}?{parts.query}")


@asynccontextmanager
async def login_setup(tmp_path: Path) -> AsyncIterator[Login]:
    provider = OidcProvider(CLIENT_ID, CLIENT_SECRET, users=USERS)
    async with serving(provider.app()) as issuer:
        world = make_world(
            f"sqlite:///{tmp_path / 'agency.db'}",
            seeded=True,
            open_read=False,
            public_url=BASE_URL,
            oidc_issuer=issuer,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET,
        )
        try:
            async with (
                client_for(world.services) as agency,
                httpx2.AsyncClient() as browser,
            ):
                yield Login(world, provider, agency, browser)
        finally:
            world.store.dispose()


async def test_a_full_login_gives_a_session_with_the_mapped_role(tmp_path: Path) -> None:
    async with login_setup(tmp_path) as login:
        to_provider = await login.start("/runs/380100")
        query = parse_qs(urlparse(to_provider).query)
        assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
        finished = await login.callback(await login.authorize(to_provider, "alice"))
        assert finished.status_code == 303 and finished.headers["location"] == "/runs/380100"
        cookie = next(
            c for c in finished.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        me = (await login.agency.get("/auth/me")).json()
        assert me["name"] == "alice" and me["role"] == "expert" and me["via"] == "session"
        hold = {"kind": "force_ready", "run": READY, "why": "checked", "expires_in_hours": 1}
        created = await login.agency.post(
            "/api/v1/overrides", json=hold, headers={"X-CSRF-Token": me["csrf_token"]}
        )
        assert created.status_code == 201 and created.json()["who"] == "alice"
        audit = (await login.agency.get("/api/v1/audit")).json()["items"]
    assert [(e["actor"], e["action"]) for e in audit[:2]] == [
        ("alice", "override.force_ready"),
        ("alice", "auth.login"),
    ]
    assert audit[0]["detail"]["via"] == "session"


async def test_roles_come_from_the_role_claims(tmp_path: Path) -> None:
    async with login_setup(tmp_path) as login:
        roles = {}
        for user in ("olga", "vic"):
            login.agency.cookies.clear()
            await login.callback(await login.authorize(await login.start(), user))
            roles[user] = (await login.agency.get("/auth/me")).json()["role"]
    assert roles == {"olga": "operator", "vic": "viewer"}


@pytest.mark.parametrize(
    "fault", ["bad_signature", "wrong_nonce", "wrong_audience", "wrong_issuer", "expired"]
)
async def test_an_untrustworthy_id_token_is_refused(tmp_path: Path, fault: str) -> None:
    async with login_setup(tmp_path) as login:
        login.provider.faults.add(fault)
        answer = await login.callback(await login.authorize(await login.start(), "alice"))
        me = (await login.agency.get("/auth/me")).json()
    assert answer.status_code == 400 and "id_token" in answer.json()["detail"]
    assert me["name"] is None


async def test_a_wrong_or_missing_state_is_refused(tmp_path: Path) -> None:
    async with login_setup(tmp_path) as login:
        back = await login.authorize(await login.start(), "alice")
        forged = back.replace("state=", "state=x")
        assert (await login.callback(forged)).status_code == 400
        login.agency.cookies.clear()  # a callback the browser never started
        assert (await login.callback(back)).status_code == 400
        assert (await login.agency.get("/auth/me")).json()["name"] is None


async def test_the_provider_checks_pkce_and_single_use_codes(tmp_path: Path) -> None:
    async with login_setup(tmp_path) as login:
        issuer = login.world.services.settings.oidc_issuer
        back = await login.authorize(await login.start(), "alice")
        code = parse_qs(urlparse(back).query)["code"][0]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": f"{BASE_URL}/auth/callback",
            "code_verifier": "not-the-verifier",
        }
        wrong = await login.browser.post(f"{issuer}/token", data=form)
        replay = await login.agency.get(urlparse(back).path + "?" + urlparse(back).query)
    assert wrong.status_code == 400 and "PKCE" in wrong.text
    assert replay.status_code == 400  # the code was spent by the failed attempt


def test_role_mapping_and_redirect_targets() -> None:
    assert role_from_claims({"roles": ["spyagency-operator", "spyagency-expert"]}) is Role.EXPERT
    assert role_from_claims({"cern_roles": "spyagency-operator"}) is Role.OPERATOR
    assert role_from_claims({"roles": "x", "groups": [1, None]}) is Role.VIEWER
    assert safe_next("/runs?x=1") == "/runs?x=1"
    for target in ("//evil.example", "https://evil.example", "/\\evil", None, ""):
        assert safe_next(target) == "/"


@pytest.mark.parametrize("body", ['"just a string"', "[1, 2]", "not json at all"])
async def test_an_issuer_answering_no_json_object_is_a_502(tmp_path: Path, body: str) -> None:
    from fastapi import FastAPI
    from fastapi.responses import Response

    broken = FastAPI()

    @broken.get("/.well-known/openid-configuration")
    def discovery() -> Response:
        return Response(body, media_type="application/json")

    async with serving(broken) as issuer:
        world = make_world(
            f"sqlite:///{tmp_path / 'agency.db'}",
            public_url=BASE_URL,
            oidc_issuer=issuer,
            oidc_client_id=CLIENT_ID,
        )
        try:
            async with client_for(world.services) as agency:
                answer = await agency.get("/auth/login")
        finally:
            world.store.dispose()
    assert answer.status_code == 502 and "login service" in answer.json()["detail"]


async def test_a_login_hint_is_passed_on_to_the_provider(tmp_path: Path) -> None:
    async with login_setup(tmp_path) as login:
        answer = await login.agency.get("/auth/login", params={"login_hint": "olga"})
        assert answer.status_code == 303
        to_provider = answer.headers["location"]
        assert parse_qs(urlparse(to_provider).query)["login_hint"] == ["olga"]
        # The provider logs in whom the hint names: no login_hint appended by hand.
        back = await login.browser.get(to_provider)
        await login.callback(back.headers["location"])
        me = (await login.agency.get("/auth/me")).json()
    assert (me["name"], me["role"]) == ("olga", "operator")


async def test_the_demo_provider_asks_whom_to_log_in_without_a_hint() -> None:
    users = {"expert": ["spyagency-expert"], "<b>eve</b>": []}
    provider = OidcProvider(CLIENT_ID, CLIENT_SECRET, users=users, chooser=True)
    request = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": "http://agency.test/auth/callback",
        "state": "s1",
    }
    async with serving(provider.app()) as issuer, httpx2.AsyncClient(base_url=issuer) as browser:
        chooser = await browser.get("/authorize", params=request)
        assert chooser.status_code == 200 and "text/html" in chooser.headers["content-type"]
        assert "&lt;b&gt;eve&lt;/b&gt;" in chooser.text and "<b>eve</b>" not in chooser.text
        link = next(
            part.split('"', 1)[0]
            for part in chooser.text.split('href="')[1:]
            if "login_hint=expert" in part.split('"', 1)[0]
        )
        picked = await browser.get(link.replace("&amp;", "&"))
        # The original request, with the picked user: straight back to the agency with a code.
        assert picked.status_code == 302
        back = urlparse(picked.headers["location"])
        assert back.path == "/auth/callback" and parse_qs(back.query)["state"] == ["s1"]
        refused = await browser.get("/authorize", params={**request, "client_id": "other"})
        assert refused.status_code == 400
