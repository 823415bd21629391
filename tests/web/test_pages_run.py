"""The run page: verdict and reasons, automatic verdict apart from overrides, deadlines,
workflows with evidence and upstream links, timeline, overrides and alerts."""

from __future__ import annotations

from pathlib import Path

import pytest

from spyagency.web.authorization import Role
from tests.web.page_world import (
    BLOCKED,
    PENDING,
    READY,
    RELEASED,
    World,
    client_for,
    fetch_page,
    make_world,
    pages_app,
    text_between,
)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


page = fetch_page


async def test_verdict_reasons_and_proof_time(world: World) -> None:
    html = await page(world, f"/runs/{BLOCKED}")
    verdict = text_between(html, 'id="verdict-h"', "</section>")
    assert "needs an expert: SiStripQuality upload_failed" in verdict
    assert 'class="badge v-blocked">blocked</span>' in verdict
    ready = await page(world, f"/runs/{READY}")
    assert "all 2 required calibration(s) proven" in ready
    assert "Proof complete</dt><dd>2026-06-01 13:06Z" in ready


async def test_automatic_verdict_is_shown_apart_from_the_override(world: World) -> None:
    html = await page(world, f"/runs/{PENDING}")
    verdict = text_between(html, 'id="verdict-h"', "</section>")
    assert "Automatic verdict" in verdict
    overrides = text_between(html, 'id="overrides-h"', "</section>")
    active = text_between(overrides, "<table", "</table>")
    assert "hold" in active and "alice" in active and "checking gains by hand" in active
    past = text_between(overrides, "Past overrides", "</table>")
    assert "force_ready" in past and "bob" in past and "expired" in past


async def test_deadlines_with_countdowns(world: World) -> None:
    html = await page(world, f"/runs/{PENDING}")
    deadlines = text_between(html, 'id="deadlines-h"', "</section>")
    for name, at in (
        ("harvest", "2026-06-01 22:00Z"),
        ("upload", "2026-06-02 04:00Z"),
        ("lock-in", "2026-06-03 09:30Z"),
    ):
        assert f'<th scope="row">{name}</th><td>{at}</td>' in deadlines
    assert 'data-lock-in="2026-06-03T09:30:00Z"' in deadlines


async def test_workflows_with_state_words_and_evidence_links(world: World) -> None:
    html = await page(world, f"/runs/{READY}")
    table = text_between(html, 'id="workflows-h"', "</section>")
    gains = text_between(table, 'id="wf-SiStripGains"', "</tr>")
    assert "<code>in_db</code>" in gains
    assert "tag SiStripApvGain_PCL_v0_prompt: IOV since" in gains
    assert (
        'href="https://cms-conddb.cern.ch/cmsDbBrowser/list/Prod/tags/SiStripApvGain_PCL_v0_prompt"'
        in gains
    )
    assert "not expected for this run" in table


async def test_timeline_merges_observations_and_changes_newest_first(world: World) -> None:
    html = await page(world, f"/runs/{BLOCKED}")
    timeline = text_between(html, 'id="timeline-h"', "</ol>")
    assert 'class="chip src-oms">oms</span>' in timeline
    assert 'class="chip src-upload">upload_log</span>' in timeline
    assert 'class="chip src-agency">agency</span>' in timeline
    assert "verdict: ∅ → blocked" in timeline
    stamps = [part.split('"', 1)[0] for part in timeline.split('<time datetime="')[1:]]
    assert stamps == sorted(stamps, reverse=True)


async def test_override_forms_follow_the_role(world: World) -> None:
    viewer = await page(world, f"/runs/{PENDING}", role=Role.VIEWER)
    assert f'action="/runs/{PENDING}/overrides"' not in viewer
    assert "/revoke" not in viewer
    operator = await page(world, f"/runs/{PENDING}", role=Role.OPERATOR)
    form = text_between(operator, f'action="/runs/{PENDING}/overrides"', "</form>")
    assert '<option value="hold">' in form
    assert "force_ready" not in form
    assert "/revoke" in operator  # an operator may lift a hold
    expert = await page(world, f"/runs/{PENDING}", role=Role.EXPERT)
    form = text_between(expert, f'action="/runs/{PENDING}/overrides"', "</form>")
    assert '<option value="force_ready">' in form and '<option value="ignore_workflow">' in form
    assert 'name="csrf_token"' in form


async def test_no_override_form_on_a_final_run(world: World) -> None:
    html = await page(world, f"/runs/{RELEASED}", role=Role.EXPERT)
    assert f'action="/runs/{RELEASED}/overrides"' not in html


async def test_alert_history_and_signals_of_the_run(world: World) -> None:
    html = await page(world, f"/runs/{BLOCKED}")
    alerts = text_between(html, 'id="alerts-h"', "</section>")
    assert "SiStripQuality upload failed" in alerts
    ready = await page(world, f"/runs/{READY}")
    signals = text_between(ready, 'id="signals-h"', "</section>")
    assert f"run-{READY}-ready-1" in signals


async def test_unknown_run_is_a_404_page(world: World) -> None:
    html = await page(world, "/runs/123", status=404)
    assert "The agency knows nothing about run 123." in html


async def test_detail_fragment(world: World) -> None:
    async with client_for(pages_app(world.services)) as client:
        found = await client.get(f"/fragments/runs/{READY}/detail")
        missing = await client.get("/fragments/runs/5/detail")
    assert found.status_code == 200
    assert "<html" not in found.text
    assert f"Run {READY}" in found.text
    assert missing.status_code == 404


async def test_a_final_runs_deadlines_say_how_they_ended_not_overdue(world: World) -> None:
    released = text_between(
        await page(world, f"/runs/{RELEASED}"), 'id="deadlines-h"', "</section>"
    )
    assert 'class="countdown"' not in released
    assert "deadline-done" in released and ("met" in released or "run released" in released)
    open_run = text_between(await page(world, f"/runs/{PENDING}"), 'id="deadlines-h"', "</section>")
    assert 'class="countdown"' in open_run
