"""The authorization matrix: every action against every role and an anonymous caller, through
the real endpoints. The expected least roles are spelled out here, independently of the table
in ``spyagency.web.authorization``, so a change to that table has to change this test too."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from spyagency.domain.overrides import Override, OverrideKind
from spyagency.web.authorization import LEAST_ROLE, Action, Role, decide, may
from tests.web.api_world import NOW, READY, World, client_for, make_world, moment

EXPECTED_LEAST_ROLE = {
    Action.READ: Role.VIEWER,
    Action.ACK_ALERT: Role.OPERATOR,
    Action.HOLD: Role.OPERATOR,
    Action.REVOKE_HOLD: Role.OPERATOR,
    Action.FORCE_READY: Role.EXPERT,
    Action.REVOKE_FORCE_READY: Role.EXPERT,
    Action.IGNORE_WORKFLOW: Role.EXPERT,
    Action.REVOKE_IGNORE_WORKFLOW: Role.EXPERT,
    Action.SET_SIGNALS: Role.EXPERT,
}
CALLERS: list[Role | None] = [None, Role.VIEWER, Role.OPERATOR, Role.EXPERT]


@dataclass(frozen=True)
class Attempt:
    method: str
    path: str
    body: dict[str, Any] | None = None


def prepare(world: World, action: Action) -> Attempt:
    """Set up what ``action`` acts on and say which request performs it."""
    if action is Action.READ:
        return Attempt("GET", "/api/v1/runs")
    if action is Action.ACK_ALERT:
        with world.store.transaction() as tx:
            alert, _ = tx.alerts.open_or_touch("k", "stuck", "warning", READY, None, None, "m", NOW)
        return Attempt("POST", f"/api/v1/alerts/{alert.id}/ack")
    if action is Action.SET_SIGNALS:
        return Attempt("POST", "/api/v1/control/signals", {"enabled": False, "reason": "test"})
    kinds = {
        Action.HOLD: OverrideKind.HOLD,
        Action.FORCE_READY: OverrideKind.FORCE_READY,
        Action.IGNORE_WORKFLOW: OverrideKind.IGNORE_WORKFLOW,
        Action.REVOKE_HOLD: OverrideKind.HOLD,
        Action.REVOKE_FORCE_READY: OverrideKind.FORCE_READY,
        Action.REVOKE_IGNORE_WORKFLOW: OverrideKind.IGNORE_WORKFLOW,
    }
    kind = kinds[action]
    workflow = "SiStripQuality" if kind is OverrideKind.IGNORE_WORKFLOW else None
    if action.value.startswith("override.revoke."):
        with world.store.transaction() as tx:
            given = tx.overrides.add(
                Override(
                    READY, kind, "someone", "because", moment(0), NOW + (NOW - moment(0)), workflow
                )
            )
        return Attempt("POST", f"/api/v1/overrides/{given.id}/revoke", {"reason": "matrix"})
    body = {"kind": kind.value, "run": READY, "why": "matrix", "expires_in_hours": 1}
    return Attempt("POST", "/api/v1/overrides", body | ({"workflow": workflow} if workflow else {}))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = make_world(f"sqlite:///{tmp_path / 'agency.db'}", open_read=False)
    yield world
    world.store.dispose()


def test_the_table_is_the_expected_one() -> None:
    assert LEAST_ROLE == EXPECTED_LEAST_ROLE


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c.label if c else "anonymous")
async def test_matrix(world: World, action: Action, caller: Role | None) -> None:
    attempt = prepare(world, action)
    headers = world.auth(caller) if caller is not None else {}
    async with client_for(world.services) as client:
        answer = await client.request(
            attempt.method, attempt.path, json=attempt.body, headers=headers
        )
    if caller is None:
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"] == "Bearer"
    elif caller >= EXPECTED_LEAST_ROLE[action]:
        assert answer.status_code in (200, 201), answer.text
    else:
        assert answer.status_code == 403, answer.text
    assert "detail" in answer.json() or answer.status_code < 300


async def test_open_read_lets_anonymous_callers_read_and_nothing_else(world: World) -> None:
    world.services.settings = world.services.settings.model_copy(update={"open_read": True})
    async with client_for(world.services) as client:
        assert (await client.get("/api/v1/runs")).status_code == 200
        assert (await client.get("/api/v1/readiness")).status_code == 200
        hold = {"kind": "hold", "run": READY, "why": "x", "expires_in_hours": 1}
        assert (await client.post("/api/v1/overrides", json=hold)).status_code == 401


@pytest.mark.parametrize("open_read", [True, False])
def test_decide_answers_for_every_cell(open_read: bool) -> None:
    for action in Action:
        for caller in CALLERS:
            allowed = may(caller, action, open_read=open_read)
            if caller is None:
                assert allowed == (action is Action.READ and open_read)
            else:
                assert allowed == (caller >= EXPECTED_LEAST_ROLE[action])
            assert (decide(caller, action, open_read=open_read).value == "allowed") == allowed
