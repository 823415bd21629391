"""API tokens, cookie sessions and CSRF, without the OIDC login (see test_security_oidc)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from spyagency.web.authorization import Role
from spyagency.web.security import (
    SESSION_COOKIE,
    SignedCookie,
    end_sessions,
    hash_token,
    issue_token,
    revoke_tokens,
    secret_for,
)
from tests.web.api_world import BASE_URL, NOW, READY, World, client_for, make_world

SECRET = "test-secret-key"
HOLD = {"kind": "hold", "run": READY, "why": "look", "expires_in_hours": 1}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = make_world(f"sqlite:///{tmp_path / 'agency.db'}", open_read=False, secret_key=SECRET)
    yield world
    world.store.dispose()


def session_cookie(world: World, name: str, role: str, csrf: str = "csrf-1") -> dict[str, str]:
    codec = SignedCookie(secret_for(world.services.settings), "session")
    return {SESSION_COOKIE: codec.dump({"name": name, "role": role, "csrf": csrf}, 600)}


def test_tokens_are_stored_hashed_never_in_plaintext(world: World, tmp_path: Path) -> None:
    plaintext = issue_token(world.store, "tier0", "viewer", NOW)
    assert plaintext.startswith("spy_") and len(plaintext) > 40
    with world.store.read() as tx:
        rows = tx.connection.execute(text("SELECT name, role, token_hash FROM api_token")).all()
    assert ("tier0", "viewer", hash_token(plaintext)) in [tuple(row) for row in rows]
    world.store.dispose()
    for path in tmp_path.glob("agency.db*"):
        assert plaintext.encode() not in path.read_bytes()


def test_issue_token_refuses_bad_roles_and_names(world: World) -> None:
    with pytest.raises(ValueError, match="unknown role"):
        issue_token(world.store, "x", "admin", NOW)
    with pytest.raises(ValueError, match="name"):
        issue_token(world.store, "  ", Role.VIEWER, NOW)


async def test_revoked_unknown_and_malformed_tokens_are_401(world: World) -> None:
    plaintext = issue_token(world.store, "old", Role.EXPERT, NOW)
    async with client_for(world.services) as client:
        good = await client.get("/api/v1/runs", headers={"Authorization": f"Bearer {plaintext}"})
        assert good.status_code == 200
        assert revoke_tokens(world.store, "old", NOW + timedelta(seconds=1)) == 1
        world.clock.advance(timedelta(seconds=2))
        for header in (f"Bearer {plaintext}", "Bearer spy_guessed", "Bearer ", "Basic abc"):
            answer = await client.get("/api/v1/runs", headers={"Authorization": header})
            assert answer.status_code == 401, header
    with world.store.read() as tx:
        actions = [entry.action for entry in tx.audit.list()]
    assert actions[:2] == ["token.revoke", "token.issue"]


async def test_a_token_revoked_from_a_clock_ahead_is_refused_at_once(world: World) -> None:
    plaintext = issue_token(world.store, "laptop", Role.EXPERT, NOW)
    assert revoke_tokens(world.store, "laptop", NOW + timedelta(hours=1)) == 1
    async with client_for(world.services) as client:
        answer = await client.get("/api/v1/runs", headers={"Authorization": f"Bearer {plaintext}"})
    assert answer.status_code == 401


async def test_a_bad_token_is_refused_even_where_reading_is_open(world: World) -> None:
    world.services.settings = world.services.settings.model_copy(update={"open_read": True})
    async with client_for(world.services) as client:
        anonymous = await client.get("/api/v1/runs")
        wrong = await client.get("/api/v1/runs", headers={"Authorization": "Bearer nope"})
    assert anonymous.status_code == 200 and wrong.status_code == 401


async def test_one_callers_identity_never_leaks_into_the_next_request(world: World) -> None:
    async with client_for(world.services) as client:
        assert (
            await client.get("/api/v1/runs", headers=world.auth(Role.EXPERT))
        ).status_code == 200
        assert (await client.get("/api/v1/runs")).status_code == 401
        assert (
            await client.get("/api/v1/runs", headers=world.auth(Role.VIEWER))
        ).status_code == 200
        answer = await client.post("/api/v1/overrides", json=HOLD, headers=world.auth(Role.VIEWER))
    assert answer.status_code == 403


async def test_a_session_reads_and_acts_only_with_its_csrf_token(world: World) -> None:
    cookies = session_cookie(world, "alice", "operator", csrf="right-token")
    async with client_for(world.services) as client:
        client.cookies.update(cookies)
        assert (await client.get("/api/v1/runs")).status_code == 200
        me = (await client.get("/auth/me")).json()
        assert me == {
            "name": "alice",
            "role": "operator",
            "via": "session",
            "csrf_token": "right-token",
        }
        missing = await client.post("/api/v1/overrides", json=HOLD)
        wrong = await client.post("/api/v1/overrides", json=HOLD, headers={"X-CSRF-Token": "nope"})
        right = await client.post(
            "/api/v1/overrides", json=HOLD, headers={"X-CSRF-Token": "right-token"}
        )
    assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
    assert wrong.status_code == 403
    assert right.status_code == 201 and right.json()["who"] == "alice"


async def test_tampered_or_foreign_cookies_are_anonymous(world: World) -> None:
    good = session_cookie(world, "alice", "viewer")[SESSION_COOKIE]
    body, signature = good.split(".")
    forged_role = SignedCookie(b"another key", "session").dump(
        {"name": "eve", "role": "expert"}, 60
    )
    login_cookie = SignedCookie(secret_for(world.services.settings), "login").dump(
        {"name": "eve", "role": "expert"}, 60
    )
    for value in (f"{body}x.{signature}", forged_role, login_cookie, "garbage", ""):
        async with client_for(world.services) as client:
            client.cookies.set(SESSION_COOKIE, value)
            assert (await client.get("/api/v1/runs")).status_code == 401, value


async def test_expired_sessions_are_anonymous(world: World) -> None:
    codec = SignedCookie(secret_for(world.services.settings), "session")
    expired = codec.dump({"name": "alice", "role": "expert", "csrf": "c"}, -1)
    async with client_for(world.services) as client:
        client.cookies.set(SESSION_COOKIE, expired)
        assert (await client.get("/api/v1/runs")).status_code == 401


async def test_logout_needs_the_csrf_token_and_clears_the_cookie(world: World) -> None:
    async with client_for(world.services) as client:
        client.cookies.update(session_cookie(world, "alice", "viewer", csrf="tok"))
        refused = await client.post("/auth/logout")
        done = await client.post(
            "/auth/logout",
            content=b"csrf_token=tok",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert refused.status_code == 403
    assert done.status_code == 303 and done.headers["location"] == "/"
    cleared = done.headers["set-cookie"]
    assert cleared.startswith(f"{SESSION_COOKIE}=") and "Max-Age=0" in cleared


async def test_a_cookie_replayed_after_logout_is_anonymous(world: World) -> None:
    cookie = session_cookie(world, "alice", "expert", csrf="tok")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    async with client_for(world.services) as client:
        client.cookies.update(cookie)
        assert (await client.get("/auth/me")).json()["name"] == "alice"
        done = await client.post("/auth/logout", content=b"csrf_token=tok", headers=form)
        assert done.status_code == 303
    async with client_for(world.services) as replay:
        replay.cookies.update(cookie)
        assert (await replay.get("/auth/me")).json()["name"] is None
        hold = await replay.post("/api/v1/overrides", json=HOLD, headers={"X-CSRF-Token": "tok"})
        assert hold.status_code == 401


async def test_ending_a_users_sessions_ends_them_all_at_once(world: World) -> None:
    cookie = session_cookie(world, "bob", "expert")
    end_sessions(world.store, "bob", "cli", NOW, "laptop lost")
    async with client_for(world.services) as client:
        client.cookies.update(cookie)
        assert (await client.get("/auth/me")).json()["name"] is None
    with world.store.read() as tx:
        assert tx.audit.list()[0].action == "session.end"


async def test_login_without_oidc_configured_is_404(world: World) -> None:
    async with client_for(world.services) as client:
        answer = await client.get("/auth/login")
    assert answer.status_code == 404 and "not configured" in answer.json()["detail"]
    assert BASE_URL.startswith("http://")


async def test_metrics_follow_the_reading_rule(world: World) -> None:
    """With reading closed, /metrics needs a token too (Prometheus sends it as a bearer)."""
    plaintext = issue_token(world.store, "prometheus", Role.VIEWER, NOW)
    async with client_for(world.services) as client:
        anonymous = await client.get("/metrics")
        scraped = await client.get("/metrics", headers={"Authorization": f"Bearer {plaintext}"})
    assert anonymous.status_code == 401
    assert scraped.status_code == 200 and "spyagency_" in scraped.text
