"""The poll envelope: whatever goes wrong inside a spy, ``poll`` returns a report."""

from __future__ import annotations

import asyncio

import pytest

from spyagency.domain.states import Source
from spyagency.spies.base import HttpSpy
from spyagency.spies.failures import SourceFailure
from spyagency.spies.report import Findings
from spyagency.spies.scope import PollScope
from tests.spies.fakes import NOW, fixed_clock


class BrokenSpy(HttpSpy):
    source = Source.DQM

    def __init__(self, problem: BaseException) -> None:
        super().__init__("http://nowhere.test/", clock=fixed_clock)
        self.problem = problem

    async def _collect(self, scope: PollScope, findings: Findings) -> None:
        findings.error("seen before the problem")
        raise self.problem


async def test_a_bug_inside_a_spy_becomes_an_error() -> None:
    async with BrokenSpy(KeyError("oops")) as spy:
        report = await spy.poll(PollScope(now=NOW))
    assert report.errors[0].message == "seen before the problem"
    assert "internal error in the dqm spy" in report.errors[1].message
    assert report.started_at == report.finished_at == NOW and not report.ok


async def test_an_escaped_source_failure_keeps_its_details() -> None:
    failure = SourceFailure("boom", raw="<html/>", url="http://x/", permanent=True)
    async with BrokenSpy(failure) as spy:
        report = await spy.poll(PollScope(now=NOW))
    error = report.errors[1]
    assert (error.message, error.raw, error.url, error.permanent) == (
        "boom",
        "<html/>",
        "http://x/",
        True,
    )


async def test_cancellation_is_not_swallowed() -> None:
    async with BrokenSpy(asyncio.CancelledError()) as spy:
        with pytest.raises(asyncio.CancelledError):
            await spy.poll(PollScope(now=NOW))
