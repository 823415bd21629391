"""Actions: overrides, acknowledging alerts, the signal kill switch; each one audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from spyagency.web.authorization import Role
from tests.web.api_world import BLOCKED, READY, World, client_for, make_world

EXPERT, OPERATOR = Role.EXPERT, Role.OPERATOR


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    world = make_world(f"sqlite:///{tmp_path / 'agency.db'}")
    yield world
    world.store.dispose()


def hold(run: int = READY) -> dict[str, object]:
    return {"kind": "hold", "run": run, "why": "pixel alignment looks odd", "expires_in_hours": 6}


async def test_an_override_is_stored_shown_apart_reevaluated_and_revoked(world: World) -> None:
    async with client_for(world.services) as client:
        created = await client.post("/api/v1/overrides", json=hold(), headers=world.auth(OPERATOR))
        given = created.json()
        assert created.status_code == 201
        assert given["who"] == "token:operator-bot" and given["active"] is True
        assert given["expires_at"] == "2026-06-04T02:00:00Z"
        assert world.engine.asked == [[READY]]
        run = (await client.get(f"/api/v1/runs/{READY}")).json()
        assert [o["id"] for o in run["overrides"]] == [given["id"]]
        listed = (await client.get("/api/v1/overrides")).json()
        assert [o["id"] for o in listed] == [given["id"]]

        revoked = await client.post(
            f"/api/v1/overrides/{given['id']}/revoke",
            json={"reason": "looked again"},
            headers=world.auth(OPERATOR),
        )
        assert revoked.status_code == 200
        assert revoked.json()["active"] is False
        assert revoked.json()["revoked_by"] == "token:operator-bot"
        assert world.engine.asked == [[READY], [READY]]
        again = await client.post(
            f"/api/v1/overrides/{given['id']}/revoke",
            json={"reason": "looked again"},
            headers=world.auth(OPERATOR),
        )
        assert again.status_code == 409
        history = (await client.get("/api/v1/overrides", params={"run": READY})).json()
        run = (await client.get(f"/api/v1/runs/{READY}")).json()
        events = (await client.get(f"/api/v1/runs/{READY}/events")).json()
    assert [o["revoked_at"] is not None for o in history] == [True]
    assert run["overrides"] == [] and len(run["override_history"]) == 1
    assert [(e["kind"], e["new"]) for e in events if e["kind"] == "override"] == [
        ("override", "hold"),
        ("override", "revoked"),
    ]


async def test_an_override_on_a_run_nobody_knows_is_refused_and_creates_nothing(
    world: World,
) -> None:
    async with client_for(world.services) as client:
        answer = await client.post(
            "/api/v1/overrides", json=hold(999_999), headers=world.auth(EXPERT)
        )
        listed = (await client.get("/api/v1/overrides", params={"run": 999_999})).json()
        run = await client.get("/api/v1/runs/999999")
    assert answer.status_code == 404
    assert "999999 is not known" in answer.json()["detail"]
    assert listed == [] and run.status_code == 404
    assert world.engine.asked == []


async def test_an_expert_may_excuse_a_workflow(world: World) -> None:
    body = hold(BLOCKED) | {"kind": "ignore_workflow", "workflow": "SiStripQuality"}
    async with client_for(world.services) as client:
        answer = await client.post("/api/v1/overrides", json=body, headers=world.auth(EXPERT))
    assert answer.status_code == 201 and answer.json()["workflow"] == "SiStripQuality"


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "ignore_workflow", "run": READY, "why": "x", "expires_in_hours": 1},
        {
            "kind": "hold",
            "run": READY,
            "why": "x",
            "expires_in_hours": 1,
            "workflow": "SiStripGains",
        },
        {
            "kind": "ignore_workflow",
            "run": READY,
            "why": "x",
            "expires_in_hours": 1,
            "workflow": "Nope",
        },
        {"kind": "hold", "run": READY, "why": "x", "expires_in_hours": 169},
        {"kind": "hold", "run": READY, "why": "x", "expires_in_hours": 0},
        {"kind": "hold", "run": READY, "why": "   ", "expires_in_hours": 1},
        {"kind": "hold", "run": READY, "why": "", "expires_in_hours": 1},
        {"kind": "approve", "run": READY, "why": "x", "expires_in_hours": 1},
        {"kind": "hold", "run": -1, "why": "x", "expires_in_hours": 1},
        {"kind": "hold", "run": READY, "why": "x", "expires_in_hours": 1, "who": "someone else"},
        {"kind": "hold", "run": READY},
    ],
)
async def test_inconsistent_overrides_are_refused(world: World, body: dict[str, object]) -> None:
    async with client_for(world.services) as client:
        answer = await client.post("/api/v1/overrides", json=body, headers=world.auth(EXPERT))
        listed = (await client.get("/api/v1/overrides")).json()
    assert answer.status_code == 422, answer.text
    assert "detail" in answer.json() and listed == []
    assert world.engine.asked == []


async def test_malformed_bodies_and_unknown_ids(world: World) -> None:
    headers = world.auth(EXPERT) | {"Content-Type": "application/json"}
    async with client_for(world.services) as client:
        broken = await client.post(
            "/api/v1/overrides", content=b'{"kind": "hold",', headers=headers
        )
        not_object = await client.post("/api/v1/control/signals", content=b"[]", headers=headers)
        missing = await client.post(
            "/api/v1/overrides/4242/revoke", json={"reason": "gone"}, headers=headers
        )
        no_alert = await client.post("/api/v1/alerts/4242/ack", headers=headers)
    assert broken.status_code == 422 and not_object.status_code == 422
    assert missing.status_code == 404 and no_alert.status_code == 404


@pytest.mark.parametrize("body", [None, {}, {"reason": ""}, {"reason": "\u200b\u2060 "}])
async def test_revoking_needs_a_visible_reason(world: World, body: dict[str, str] | None) -> None:
    async with client_for(world.services) as client:
        given = (
            await client.post("/api/v1/overrides", json=hold(), headers=world.auth(OPERATOR))
        ).json()
        refused = await client.post(
            f"/api/v1/overrides/{given['id']}/revoke", json=body, headers=world.auth(OPERATOR)
        )
        still = (await client.get("/api/v1/overrides", params={"run": READY})).json()
    assert refused.status_code == 422, refused.text
    assert [o["active"] for o in still] == [True]


async def test_a_revocation_and_an_acknowledgement_say_why_in_the_audit_log(
    world: World,
) -> None:
    async with client_for(world.services) as client:
        given = (
            await client.post("/api/v1/overrides", json=hold(), headers=world.auth(OPERATOR))
        ).json()
        await client.post(
            f"/api/v1/overrides/{given['id']}/revoke",
            json={"reason": " payload arrived "},
            headers=world.auth(OPERATOR),
        )
        alert = (await client.get("/api/v1/alerts")).json()["open"][0]
        await client.post(
            f"/api/v1/alerts/{alert['id']}/ack",
            json={"note": "on it"},
            headers=world.auth(OPERATOR),
        )
        entries = (await client.get("/api/v1/audit", params={"limit": 2})).json()["items"]
    assert entries[0]["action"] == "alert.ack" and entries[0]["detail"]["note"] == "on it"
    assert entries[1]["action"] == "override.revoke.hold"
    assert entries[1]["detail"]["why"] == "payload arrived"


async def test_acknowledging_an_alert(world: World) -> None:
    async with client_for(world.services) as client:
        alert = (await client.get("/api/v1/alerts")).json()["open"][0]
        answer = await client.post(
            f"/api/v1/alerts/{alert['id']}/ack", headers=world.auth(OPERATOR)
        )
        resolved = (await client.get("/api/v1/alerts")).json()["history"]
        closed = next(a for a in resolved if not a["is_open"])
        late = await client.post(f"/api/v1/alerts/{closed['id']}/ack", headers=world.auth(OPERATOR))
    assert answer.status_code == 200
    assert answer.json()["acknowledged_by"] == "token:operator-bot"
    assert late.status_code == 409


async def test_a_second_acknowledgement_keeps_the_first(world: World) -> None:
    async with client_for(world.services) as client:
        alert = (await client.get("/api/v1/alerts")).json()["open"][0]
        first = await client.post(f"/api/v1/alerts/{alert['id']}/ack", headers=world.auth(OPERATOR))
        again = await client.post(f"/api/v1/alerts/{alert['id']}/ack", headers=world.auth(EXPERT))
        shown = (await client.get("/api/v1/alerts")).json()["open"]
    assert first.status_code == 200 and again.status_code == 409
    assert "token:operator-bot" in again.json()["detail"]
    assert next(a for a in shown if a["id"] == alert["id"])["acknowledged_by"] == (
        "token:operator-bot"
    )


@pytest.mark.parametrize("reason", ["", "   ", "\u200b", "\u200b\u200d\ufeff", "\t\n"])
async def test_the_kill_switch_needs_a_visible_reason(world: World, reason: str) -> None:
    async with client_for(world.services) as client:
        answer = await client.post(
            "/api/v1/control/signals",
            json={"enabled": False, "reason": reason},
            headers=world.auth(EXPERT),
        )
        shown = (await client.get("/api/v1/control/signals")).json()
    assert answer.status_code == 422
    assert shown["switch"] is True


async def test_the_kill_switch(world: World) -> None:
    async with client_for(world.services) as client:
        off = await client.post(
            "/api/v1/control/signals",
            json={"enabled": False, "reason": "CondDB intervention"},
            headers=world.auth(EXPERT),
        )
        shown = (await client.get("/api/v1/control/signals")).json()
        readiness = (await client.get("/api/v1/readiness")).json()
        on = await client.post(
            "/api/v1/control/signals",
            json={"enabled": True, "reason": "done"},
            headers=world.auth(EXPERT),
        )
        back = (await client.get("/api/v1/readiness")).json()
    assert off.status_code == 200 and off.json()["signals_enabled"] is False
    assert shown["switch"] is False and shown["changed_by"] == "token:expert-bot"
    assert shown["reason"] == "CondDB intervention"
    assert readiness["signals"] == [] and readiness["signals_enabled"] is False
    assert on.json()["signals_enabled"] is True and [s["run"] for s in back["signals"]] == [READY]


async def test_every_action_writes_an_audit_entry(world: World) -> None:
    async with client_for(world.services) as client:
        before = (await client.get("/api/v1/audit")).json()["items"][0]["id"]
        alert = (await client.get("/api/v1/alerts")).json()["open"][0]
        await client.post(f"/api/v1/alerts/{alert['id']}/ack", headers=world.auth(OPERATOR))
        given = await client.post("/api/v1/overrides", json=hold(), headers=world.auth(OPERATOR))
        forced = hold() | {"kind": "force_ready"}
        await client.post("/api/v1/overrides", json=forced, headers=world.auth(EXPERT))
        await client.post(
            f"/api/v1/overrides/{given.json()['id']}/revoke",
            json={"reason": "fixed"},
            headers=world.auth(EXPERT),
        )
        switch = {"enabled": False, "reason": "test"}
        await client.post("/api/v1/control/signals", json=switch, headers=world.auth(EXPERT))
        first = (await client.get("/api/v1/audit", params={"limit": 3})).json()
        rest = (
            await client.get("/api/v1/audit", params={"before_id": first["next_before_id"]})
        ).json()
    entries = [e for e in first["items"] + rest["items"] if e["id"] > before]
    assert [(e["actor"], e["action"], e["target"]) for e in reversed(entries)] == [
        ("token:operator-bot", "alert.ack", f"alert:{alert['id']}"),
        ("token:operator-bot", "override.hold", f"run:{READY}"),
        ("token:expert-bot", "override.force_ready", f"run:{READY}"),
        ("token:expert-bot", "override.revoke.hold", f"run:{READY}"),
        ("token:expert-bot", "control.signals", "signals_enabled"),
    ]
    assert all(e["detail"]["via"] == "token" for e in entries)
    assert entries[0]["detail"] == {"via": "token", "enabled": False, "reason": "test"}


async def test_refused_actions_change_nothing_and_log_nothing(world: World) -> None:
    async with client_for(world.services) as client:
        before = (await client.get("/api/v1/audit")).json()["items"]
        forced = hold() | {"kind": "force_ready"}
        answer = await client.post("/api/v1/overrides", json=forced, headers=world.auth(OPERATOR))
        after = (await client.get("/api/v1/audit")).json()["items"]
        listed = (await client.get("/api/v1/overrides")).json()
    assert answer.status_code == 403 and before == after and listed == []
