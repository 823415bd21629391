"""Sources, alerts, audit, workflow and KPI pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from spyagency.web.authorization import Role
from tests.web.page_world import (
    BLOCKED,
    PENDING,
    RAW_ERROR,
    READY,
    World,
    fetch_page,
    make_world,
    text_between,
)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


page = fetch_page


async def test_sources_show_staleness_and_the_raw_error_escaped(world: World) -> None:
    html = await page(world, "/sources")
    dqm = text_between(html, 'id="source-dqm"', "</tr>")
    assert "is-stale" in dqm
    assert "3h 00m / 1h 00m" in dqm
    assert "<td>4</td>" in dqm
    tier0 = text_between(html, 'id="source-tier0"', "</tr>")
    assert "fresh" in tier0
    assert RAW_ERROR not in html
    assert '<pre class="raw">&lt;html&gt;&lt;script&gt;bad()&lt;/script&gt;502' in html
    assert "HTTP 502 from the DQM GUI" in html


async def test_alerts_page_ack_button_for_operators_only(world: World) -> None:
    viewer = await page(world, "/alerts", role=Role.VIEWER)
    assert "SiStripQuality upload failed" in text_between(viewer, 'id="open-h"', "</section>")
    assert "/ack" not in viewer
    operator = await page(world, "/alerts", role=Role.OPERATOR)
    open_section = text_between(operator, 'id="open-h"', "</section>")
    assert 'action="/alerts/1/ack"' in open_section
    history = text_between(operator, 'id="history-h"', "</section>")
    assert "resolved" in history and "dqm stale" in history


async def test_audit_page_pages_by_id(world: World) -> None:
    with world.store.transaction() as tx:
        for number in range(60):
            tx.audit.append(world.clock.now(), "robot", "alert.ack", f"alert:{number}")
    first = await page(world, "/audit")
    assert first.count("<tr><td>") == 50
    assert 'href="/audit?before=' in first
    older = first.split('href="/audit?before=')[1].split('"')[0]
    second = await page(world, f"/audit?before={older}")
    assert "alice" in second and "override.hold" in second
    assert f"run:{PENDING}" in second


async def test_workflow_page_history_and_plot_data(world: World) -> None:
    html = await page(world, "/workflows/SiStripGains")
    history = text_between(html, 'id="history-h"', "</table>")
    assert f'href="/runs/{READY}#wf-SiStripGains"' in history
    assert f'href="/runs/{BLOCKED}#wf-SiStripGains"' in history
    ready = text_between(history, f'href="/runs/{READY}#', "</tr>")
    # Harvested 2 h after the stop; proven 0.1 h later; DQM OK with the DB updated.
    assert "<td>2.0</td>" in ready and "<td>2.1</td>" in ready
    assert "<td>ok</td>" in ready
    assert 'data-plot="latency"' in html
    assert "&#34;harvest_hours&#34;" in html
    assert 'src="/static/uPlot-1.6.32.iife.min.js"' in html


async def test_unknown_workflow_is_a_404(world: World) -> None:
    assert "workflow NoSuchThing" in await page(world, "/workflows/NoSuchThing", status=404)


async def test_kpi_page(world: World) -> None:
    html = await page(world, "/kpi")
    # The released run went 47 h after its stop: before the 48 h timer.
    assert "Released early on the agency's signal: <strong>1</strong>" in html
    assert "on the 48 h timer: <strong>0</strong>" in html
    assert '<th scope="row">p50</th><td>47.0</td>' in html
    assert '<th scope="row">p50</th>' in html
    missed = text_between(html, 'id="missed-h"', "</table>")
    assert '<th scope="row">2026-06</th><td>1</td><td>6</td>' in missed
    assert 'data-plot-src="/api/v1/kpi/release-histogram?days=730"' in html


async def test_every_page_links_the_stylesheet_and_no_inline_script(world: World) -> None:
    for url in (
        "/",
        f"/runs/{READY}",
        "/sources",
        "/alerts",
        "/audit",
        "/kpi",
        "/workflows/SiStripGains",
    ):
        html = await page(world, url)
        assert '<link rel="stylesheet" href="/static/style.css">' in html
        scripts = html.split("<script")[1:]
        assert all(' src="/static/' in tag.split(">")[0] for tag in scripts), url
        assert " style=" not in html
        assert " onclick=" not in html and " onload=" not in html
