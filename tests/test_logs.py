"""Structured logs: one JSON object per line, with the run, workflow and source as keys."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from spyagency.domain.states import Verdict, WorkflowState
from spyagency.engine.agency import log_changes
from spyagency.engine.batches import EvaluationResult
from spyagency.logs import configure_logging
from spyagency.store.run_records import StateChange, WorkflowChange


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("INFO", json_output=True)
    sink = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(sink)
    yield sink
    root.handlers[:], level = saved
    root.setLevel(level)


def test_state_changes_are_logged_with_their_run_and_workflow(json_lines: io.StringIO) -> None:
    change = StateChange(
        run=380001,
        old_verdict=Verdict.PENDING,
        new_verdict=Verdict.READY,
        workflow_changes=(
            WorkflowChange(
                "PromptCalibProdSiPixelAli", WorkflowState.UPLOAD_ATTEMPTED, WorkflowState.IN_DB
            ),
        ),
        version=3,
        changed=True,
    )
    agency_log = logging.getLogger("spyagency.engine.agency")
    agency_log.setLevel(logging.DEBUG)
    try:
        log_changes(EvaluationResult(changes=[change]))
    finally:
        agency_log.setLevel(logging.NOTSET)
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert lines[0]["run"] == 380001 and "pending -> ready" in lines[0]["message"]
    assert lines[1]["workflow"] == "PromptCalibProdSiPixelAli" and lines[1]["run"] == 380001
    assert [line["level"] for line in lines] == ["info", "debug"] and all(x["at"] for x in lines)


def test_request_chatter_is_quiet_unless_debugging(json_lines: io.StringIO) -> None:
    logging.getLogger("httpx2").info("HTTP Request: GET http://upstream/")
    logging.getLogger("httpx2").warning("connection reset")
    lines = [json.loads(line)["message"] for line in json_lines.getvalue().splitlines()]
    assert lines == ["connection reset"]
