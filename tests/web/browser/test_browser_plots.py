"""The four plots and the release histogram in Chromium: each draws a canvas with as many marks
as its API answer holds, and the table beneath it prints the API's numbers."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.browser.conftest import LiveServer, Watched, screenshot
from tests.web.page_world import READY

pytestmark = pytest.mark.browser

CELLS = "rows => rows.map(row => Array.from(row.cells).map(cell => cell.textContent.trim()))"
TIMES = "rows => rows.map(row => Array.from(row.querySelectorAll('time')).map(t => t.dateTime))"


def drawn(page: Page, plot_id: str, live: LiveServer) -> Any:
    """Wait for the plot to be drawn; return its API answer (the URL the plot itself read)."""
    plot = page.locator(f"#{plot_id}")
    expect(plot).to_have_attribute("data-drawn", re.compile(r"^\d+$"))
    expect(plot.locator("canvas")).to_have_count(1)
    source = plot.get_attribute("data-plot-src")
    assert source is not None
    answer = page.request.get(live.url + source)
    assert answer.ok
    return answer.json()


def marks(page: Page, plot_id: str) -> int:
    return int(page.locator(f"#{plot_id}").get_attribute("data-drawn") or "-1")


def table(page: Page, numbers_id: str, script: str = CELLS) -> list[list[str]]:
    rows: list[list[str]] = page.eval_on_selector_all(f"#{numbers_id} tbody tr", script)
    return rows


def hours(value: float) -> str:
    return f"{value:.2f}"


def test_the_run_timeline_draws_each_workflow_s_states(live: LiveServer, watched: Watched) -> None:
    page = watched.page
    page.goto(live.url + f"/runs/{READY}")
    answer = drawn(page, "state-bars", live)
    assert answer["bars"], "the seeded run has workflow states"
    assert marks(page, "state-bars") == len(answer["bars"])
    cells = table(page, "state-bars-numbers")
    assert [row[:2] for row in cells] == [[bar["workflow"], bar["state"]] for bar in answer["bars"]]
    times = table(page, "state-bars-numbers", TIMES)
    assert times == [[bar["start"], bar["end"]] for bar in answer["bars"]]
    expect(page.locator("#state-bars .plot-legend li")).not_to_have_count(0)
    screenshot(page, "plot-run-timeline")
    assert watched.console_errors == []


def test_the_kpi_plots_draw_the_api_s_numbers(live: LiveServer, watched: Watched) -> None:
    page = watched.page
    page.goto(live.url + "/kpi")

    histogram = drawn(page, "release-histogram", live)
    assert histogram["released"] > 0
    assert marks(page, "release-histogram") == len(histogram["counts"])
    edges = histogram["edges_hours"]
    assert table(page, "histogram-numbers") == [
        [hours(edges[i]), hours(edges[i + 1]), str(count)]
        for i, count in enumerate(histogram["counts"])
    ]

    weekly = drawn(page, "releases-per-week", live)
    assert weekly["weeks"]
    assert marks(page, "releases-per-week") == len(weekly["weeks"])
    assert table(page, "weekly-numbers") == [
        [
            week["week_start"],
            str(week["released"]),
            str(week["early"]),
            hours(week["median_hours"]),
            hours(week["max_hours"]),
        ]
        for week in weekly["weeks"]
    ]

    latency = drawn(page, "proof-latency", live)
    assert latency["workflows"]
    assert marks(page, "proof-latency") == len(latency["workflows"])
    assert table(page, "latency-numbers") == [
        [
            box["workflow"],
            str(box["count"]),
            *(hours(box[f"{name}_hours"]) for name in ("min", "q1", "median", "q3", "max")),
        ]
        for box in latency["workflows"]
    ]
    screenshot(page, "plot-kpi")
    assert watched.console_errors == []


def test_the_source_history_draws_every_hour_with_polls(live: LiveServer, watched: Watched) -> None:
    page = watched.page
    page.goto(live.url + "/sources")
    answer = drawn(page, "source-history", live)
    per_day: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    cells_with_polls = 0
    for item in answer["sources"]:
        for hour, ok, failed in zip(
            answer["hours"], item["successes"], item["failures"], strict=True
        ):
            if ok or failed:
                cells_with_polls += 1
                totals = per_day[(item["source"], hour[:10])]
                totals[0] += ok
                totals[1] += failed
    assert cells_with_polls > 0
    assert marks(page, "source-history") == cells_with_polls
    assert table(page, "source-history-numbers") == [
        [source, day, str(ok), str(failed)] for (source, day), (ok, failed) in per_day.items()
    ]
    screenshot(page, "plot-sources")
    assert watched.console_errors == []
